#!/usr/bin/env bash
# One-time set-up of this checkout: system libraries (Debian 12), .venv, the pinned stack.
# Safe to run again: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure_glibc.sh

py=""
for candidate in python3.11 python3.10 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 12)))'; then
    py=$candidate; break
  fi
done
if [ -z "$py" ]; then
  echo "[setup] ERROR: tfx[kfp] 1.21 needs Python 3.10 or 3.11 (kfp extra: < 3.12); found none." >&2
  echo "[setup] Install python3.11 (e.g. with pyenv) and run again." >&2
  exit 1
fi

# build/typecheck/tfx_edge/: the package as its import path sees it (symlinks to tfx_edge/'s files and
# to components/, schemas/, pipelines/), for mypy (pyproject.toml: [tool.mypy] mypy_path), which cannot
# follow setuptools' package-dir mapping. Rebuilt on every run: new modules appear through the folders.
view=build/typecheck/tfx_edge
rm -rf "$view" && mkdir -p "$view"
ln -s "$PWD"/tfx_edge/* "$view"/
for folder in components schemas pipelines; do ln -s "$PWD/$folder" "$view/$folder"; done

stamp=.venv/.tfx-edge-installed
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[setup] .venv is up to date."
  exit 0
fi
[ -x .venv/bin/python ] || "$py" -m venv .venv
echo "[setup] installing the pinned stack into .venv (about 3.3 GB, a minute or two)..."
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c requirements.lock -e '.[all,test]'
echo "$want" > "$stamp"
echo "[setup] done: $(.venv/bin/python -c 'import tfx, tensorflow as tf; print("tfx", tfx.__version__, "tensorflow", tf.__version__)' 2>/dev/null | tail -1)"
