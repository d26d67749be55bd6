#!/usr/bin/env bash
# Print the path of a Python interpreter of the minor given (e.g. 3.13), installing it if needed:
#   1. python3.X on PATH that runs (Debian 13 ships python3.13; a pyenv global);
#   2. a pyenv-installed 3.X (pyenv root's versions/3.X.*);
#   3. as root on Debian: apt-get install python3.X python3.X-venv from the machine's own apt
#      sources, or (Debian 12, where 3.13 is not packaged) from Debian 13's archive at the URI the
#      machine's sources name, as scripts/ensure_glibc.sh does for glibc.
# Messages go to stderr; stdout is the path only.
set -euo pipefail
minor=${1:?usage: find_python.sh 3.X}
exe=python$minor
works() { "$1" -c "import sys, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$minor'.split('.'))))" 2>/dev/null; }

if command -v "$exe" >/dev/null && works "$exe"; then command -v "$exe"; exit 0; fi
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in $(ls -d "$root"/versions/"$minor".*/bin/"$exe" 2>/dev/null | sort -V -r); do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done

fail() { echo "[setup] ERROR: no Python $minor here and $1. Install python$minor (with its venv module) and run again." >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "installing it needs root"
command -v apt-get >/dev/null || fail "this is not a Debian system (no apt-get)"
echo "[setup] installing python$minor with apt-get..." >&2
apt-get update -qq >&2 || true
if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$exe" "$exe-venv" "$exe-dev" >&2 && works "/usr/bin/$exe"; then
  echo "/usr/bin/$exe"; exit 0
fi
. /etc/os-release
[ "$minor" = "3.13" ] && [ "${VERSION_ID:-}" = "12" ] || fail "apt-get has no $exe for ${PRETTY_NAME:-this system}"
uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}')
[ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
  awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}')
[ -n "$uri" ] || fail "no Debian archive URI in /etc/apt/sources.list(.d)"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" > "$work/trixie.list"
opts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$work/trixie.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
echo "[setup] Debian 12 has no python3.13: installing it from Debian 13 (trixie), archive $uri" >&2
apt-get "${opts[@]}" update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y -qq "$exe" "$exe-venv" "$exe-dev" >&2
works "/usr/bin/$exe" || fail "apt-get ran but /usr/bin/$exe does not run"
echo "/usr/bin/$exe"
