#!/usr/bin/env bash
# One prepared run on a lent GPU machine: the CUDA tests, the overhead bench, then the rest of
# the runtime suite on that machine's torch/transformers. Logs go to $OUT (or ./gpu_logs).
set -u -o pipefail
OUT=${OUT:-gpu_logs}
mkdir -p "$OUT"
export CUBLAS_WORKSPACE_CONFIG=:4096:8 PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1
PY=${PYTHON:-python3}

{ nvidia-smi -L || true; $PY -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__, torch.cuda.is_available())"; } 2>&1 | tee "$OUT/env.txt"

timeout 150 $PY -m pytest tests/runtime/test_runtime_cuda.py -q -rs -p no:cacheprovider 2>&1 | tee "$OUT/cuda_tests.txt"
echo "cuda tests exit: $?" | tee -a "$OUT/cuda_tests.txt"

timeout 150 $PY bench/runtime_overhead.py --device all 2>&1 | tee "$OUT/bench.txt"
echo "bench exit: $?" | tee -a "$OUT/bench.txt"

timeout 60 $PY bench/check_host_time.py 2>&1 | grep -v "USDT\|ERROR:" | tee "$OUT/check_host_time.txt"

# hypothesis, open_clip and clip-anytorch may be missing there: the suite drops those parts
ignore=()
$PY -c "import hypothesis" 2>/dev/null || ignore+=(--ignore=tests/runtime/test_runtime_properties.py)
timeout 100 $PY -m pytest tests/runtime -q -p no:cacheprovider -x "${ignore[@]}" \
    --deselect tests/runtime/test_runtime_cuda.py 2>&1 | tail -15 | tee "$OUT/cpu_suite.txt"
echo "suite exit: $?" | tee -a "$OUT/cpu_suite.txt"
