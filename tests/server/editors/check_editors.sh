#!/usr/bin/env bash
# Check docs/editors.md's snippets in real editors, where they are installed (by hand; not CI):
#   apt-get install lua5.4 neovim emacs-nox elpa-eglot     (Debian 12)
#   bash tests/server/editors/check_editors.sh             (VENV=path: the venv with clip-lint, default .venv)
# Parses the Lua with luac -p, then has Neovim and Emacs (eglot, with the doc's snippet loaded)
# open a Python file with `clip-lint server` attached, and prints the diagnostics and code
# actions they received. Exits non-zero when an editor received none.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${VENV:-$root/.venv}"
export PATH="$venv/bin:$PATH"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
snippet() { "$venv/bin/python" "$here/snippets.py" "$1" > "$work/$2"; }

mkdir -p "$work/proj/pkg"
printf '[tool.clip-lint]\n' > "$work/proj/pyproject.toml"
: > "$work/proj/pkg/__init__.py"
printf 'def embed(model, images):\n    return model.encode_image(images)\n' > "$work/proj/pkg/helpers.py"
cat > "$work/proj/pkg/main.py" <<'PY'
from pkg.helpers import embed


def score(model, images, texts):
    image_features = embed(model, images)
    text_features = model.encode_text(texts)
    return image_features @ text_features.T
PY

status=0
luac=$(command -v luac5.4 || command -v luac || true)
for name in neovim-0.11 nvim-lspconfig readme-neovim; do
    snippet "$name" "$name.lua"
    if [ -n "$luac" ]; then "$luac" -p "$work/$name.lua" && echo "luac -p $name: ok" || status=1; fi
done

cd "$work/proj"
if command -v nvim > /dev/null; then
    echo "--- Neovim $(nvim --version | head -1)"
    out=$(timeout 120 nvim --headless -u NONE --noplugin -c "luafile $here/nvim_check.lua" pkg/main.py 2>&1 || true)
    echo "$out"
    grep -q "^DIAGNOSTIC .*CLN001" <<< "$out" && grep -q "^ACTION quickfix" <<< "$out" || status=1
fi
if command -v emacs > /dev/null; then
    echo "--- $(emacs --version | head -1), eglot"
    snippet emacs-eglot eglot-snippet.el
    out=$(CLIP_LINT_EGLOT_SNIPPET="$work/eglot-snippet.el" timeout 120 emacs --batch -l "$here/eglot_check.el" pkg/main.py 2>&1 || true)
    grep -v "^Loading\|^Source file" <<< "$out"
    grep -q "^DIAGNOSTIC .*CLN001" <<< "$out" || status=1
fi
exit $status
