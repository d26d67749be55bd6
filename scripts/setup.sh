#!/usr/bin/env bash
# One-time set-up of this checkout: system libraries (Debian 12), a venv, the pinned stack.
# Safe to run again: it skips what is already done.
#
# PYTHON_MINOR (default 3.11) picks the interpreter (scripts/find_python.sh), VENV (default .venv)
# the environment: CI runs the tests a second time on a newer minor,
#   make test PYTHON_MINOR=3.13 VENV=.venv-3.13
# requirements.lock pins one set for every supported minor (each pin has wheels for 3.11 to 3.13).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure_glibc.sh

minor=${PYTHON_MINOR:-3.11}
venv=${VENV:-.venv}
py=$(bash scripts/find_python.sh "$minor")

# build/typecheck/tfx_edge/: the package as its import path sees it (symlinks to tfx_edge/'s files and
# to components/, schemas/, pipelines/), for mypy (pyproject.toml: [tool.mypy] mypy_path), which cannot
# follow setuptools' package-dir mapping. Rebuilt on every run: new modules appear through the folders.
view=build/typecheck/tfx_edge
rm -rf "$view" && mkdir -p "$view"
ln -s "$PWD"/tfx_edge/* "$view"/
for folder in components schemas pipelines; do ln -s "$PWD/$folder" "$view/$folder"; done

stamp=$venv/.tfx-edge-installed
want=$( (cat pyproject.toml requirements.lock; "$py" -V) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[setup] $venv is up to date."
  exit 0
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
echo "[setup] installing the pinned stack into $venv with $("$py" -V) (about 3.3 GB, a minute or two)..."
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -c requirements.lock -e '.[all,test]'
echo "$want" > "$stamp"
echo "[setup] done: $("$venv/bin/python" -c 'import sys, tfx, tensorflow as tf; print("python", sys.version.split()[0], "tfx", tfx.__version__, "tensorflow", tf.__version__)' 2>/dev/null | tail -1)"
