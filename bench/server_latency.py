"""How long ``clip-lint server`` takes to answer a change: didChange to the diagnostics for it.

    python bench/server_latency.py [--edits 60] [--file /work/corpora/open_clip/src/open_clip/model.py]

The file's package is copied into a temporary project (so that its imports resolve to their
modules, as in the user's checkout), the server is started as an editor starts it (the
installed ``clip-lint server``, over stdio, with pygls's client) and the file is opened.
Each edit changes the scale of a similarity appended to the file, so every change needs the
analysis (the finding is there each time, and its message names the new line). The time is
from sending ``textDocument/didChange`` to receiving the ``publishDiagnostics`` of that
version; it includes the server's debounce. Run by hand.

Two baselines are taken in the same run, interleaved with the edits: the command on the same
text (``clip-lint --no-cache --stdin-filename FILE -``), what checking on each change costs
without a server; and the server's own check of that text called in this process, warm,
which is the analysis alone (the rest of the latency is the debounce, the pipe and LSP).
The CPU time the server's processes spent per edit is read from /proc, where there is one:
a busy machine stretches wall times, much less CPU times.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

DEFAULT_FILE = Path("/work/corpora/open_clip/src/open_clip/model.py")
SNIPPET = """

def _zero_shot_scores(model, images, texts):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    return {scale}.0 * image_features @ text_features.T
"""


def command() -> List[str]:
    script = Path(sys.executable).with_name("clip-lint")
    return [str(script)] if script.exists() else [sys.executable, "-m", "clip_lint.cli"]


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("server-latency-bench", "1")
        self.arrived: Dict[int, float] = {}
        self.codes: Dict[int, List[str]] = {}

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            if params.version is not None:
                self.arrived.setdefault(params.version, time.perf_counter())
                self.codes[params.version] = [str(d.code) for d in params.diagnostics]


async def wait_for(client: Client, version: int, timeout: float = 120.0) -> float:
    deadline = time.perf_counter() + timeout
    while version not in client.arrived:
        if time.perf_counter() > deadline:
            raise SystemExit(f"no diagnostics for version {version} within {timeout} s")
        await asyncio.sleep(0.001)
    return client.arrived[version]


def baseline(path: Path, text: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [*command(), "--no-cache", "--stdin-filename", str(path), "-"],
        input=text.encode(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=path.parent,
    )  # fmt: skip
    return time.perf_counter() - start


async def measure(path: Path, edits: int) -> None:
    original = path.read_text(encoding="utf-8") + SNIPPET.format(scale=100)
    scale_line = len(original.splitlines()) - 1  # the snippet's last line
    client = Client()
    await client.start_io(*command(), "server")
    capabilities = types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16])
    )
    root = from_fs_path(str(path.parent))
    await client.initialize_async(types.InitializeParams(capabilities=capabilities, root_uri=root))
    client.initialized(types.InitializedParams())
    uri = from_fs_path(str(path))
    opened = time.perf_counter()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, original)))
    first = await wait_for(client, 1) - opened
    latencies: List[float] = []
    commands: List[float] = []
    in_process: List[float] = []
    cpu: List[float] = []
    analysis = warm_analysis()
    check_here(analysis, path, original)
    text = original
    for number in range(edits):
        version = number + 2
        scale = str(101 + number)
        line = f"    return {scale}.0 * image_features @ text_features.T"
        change = types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(scale_line, 0), types.Position(scale_line, len(text.splitlines()[-1]))),
            text=line,
        )
        text = "\n".join(text.splitlines()[:-1] + [line]) + "\n"
        sent = time.perf_counter()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=version), [change])
        )
        cpu_before = server_cpu(client)
        latencies.append(await wait_for(client, version) - sent)
        cpu.append(server_cpu(client) - cpu_before)
        if "CLN001" not in client.codes[version]:
            raise SystemExit(f"version {version}: expected the snippet's CLN001, got {client.codes[version]}")
        commands.append(baseline(path, text))
        in_process.append(check_here(analysis, path, text))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    report(path, first, latencies, commands, in_process, cpu)


def server_cpu(client: Client) -> float:
    """CPU seconds (user + system) of the server and its analysis process so far; 0 without /proc."""
    server = getattr(client, "_server", None)
    if server is None or not Path("/proc/self/stat").exists():
        return 0.0
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name == str(server.pid) or fields[1] == str(server.pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def warm_analysis():
    """The server's analysis, in this process (the same code the analysis process runs)."""
    from functools import partial

    from clip_lint.frontends.cli import FileSettings, build_parser
    from clip_lint.frontends.runner import CHECK
    from clip_lint.frontends.server.analysis import Analysis

    return Analysis(partial(FileSettings, build_parser().parse_args([]), CHECK))


def check_here(analysis, path: Path, text: str) -> float:
    from clip_lint.frontends.server.analysis import Source

    real = os.path.realpath(path)
    start = time.perf_counter()
    analysis.set_texts({real: text})
    codes = [spot.code for spot in analysis.check(Source(real, text)).spots]
    elapsed = time.perf_counter() - start
    if "CLN001" not in codes:
        raise SystemExit(f"the in-process check found {codes}")
    return elapsed


def report(
    path: Path, first: float, latencies: List[float], commands: List[float], in_process: List[float], cpu: List[float]
) -> None:
    median, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    command_median, here_median = statistics.median(commands), statistics.median(in_process)
    print(f"{path.name}: {len(path.read_text().splitlines())} lines, {len(latencies)} edits, each needing the analysis")
    print(f"  first diagnostics after didOpen (analysis process starting): {first * 1000:.0f} ms")
    print(f"  didChange -> diagnostics: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"min {min(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")  # fmt: skip
    print(f"  server CPU per edit (both processes): median {statistics.median(cpu) * 1000:.0f} ms")
    print(f"  baseline, the command on the same text: median {command_median * 1000:.0f} ms "
          f"(server / command = {median / command_median:.2f})")  # fmt: skip
    print(f"  baseline, the same check in this process, warm: median {here_median * 1000:.0f} ms "
          f"(server / in-process = {median / here_median:.2f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="server-latency-") as folder:
        project = Path(folder)
        package = project / args.file.parent.name
        shutil.copytree(args.file.parent, package)
        (project / "pyproject.toml").write_text("[tool.clip-lint]\n", encoding="utf-8")
        asyncio.run(measure(package / args.file.name, args.edits))


if __name__ == "__main__":
    main()
