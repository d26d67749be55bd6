#!/usr/bin/env bash
# Install a headless Chromium for the HTML report's screenshot test
# (tests/test_html_report.py). Debian 12 / 13 ship chromium-headless-shell in
# main. Safe to run again: does nothing when a Chromium is already on PATH.
set -euo pipefail

for bin in chromium-headless-shell chromium; do
  if command -v "$bin" >/dev/null 2>&1; then
    echo "[chromium] $bin is already installed: $(command -v "$bin")"
    exit 0
  fi
done

if [ "$(id -u)" -ne 0 ]; then
  echo "[chromium] no chromium-headless-shell or chromium on PATH and not root:"
  echo "[chromium] the screenshot test in tests/test_html_report.py will be skipped."
  echo "[chromium] As root, run: bash scripts/install_chromium.sh"
  exit 0
fi

# Refresh the package lists only when apt does not know the package yet.
# (Captured first: `apt-cache ... | grep -q` fails under pipefail via SIGPIPE.)
policy=$(apt-cache policy chromium-headless-shell 2>/dev/null || true)
if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
  apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  chromium-headless-shell
echo "[chromium] installed: $(command -v chromium-headless-shell)"
