#!/usr/bin/env bash
# Make sure this machine's glibc / libstdc++ can load the tfx 1.21 stack.
#
# ml-metadata 1.21 and tensorflow-data-validation 1.21 ship only
# manylinux_2_39 wheels: pip installs them only on glibc >= 2.39 (the tag), and
# their libraries need GLIBCXX_3.4.32.
# On Debian 12 (glibc 2.36) we install libc6 and libstdc++6 from Debian 13
# (trixie), reading the archive URI from this machine's own apt sources
# (never a hard-coded host). Anywhere else we stop with a clear message.
set -euo pipefail

need_major=2; need_minor=39   # the wheels' manylinux_2_39 tag
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
glibc_ok() {
  local v; v=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  local maj=${v%%.*} min=${v#*.}; min=${min%%.*}
  [ "$maj" -gt "$need_major" ] || { [ "$maj" -eq "$need_major" ] && [ "$min" -ge "$need_minor" ]; }
}
libstdcxx_ok() {
  local lib
  lib=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64|libstdc\+\+\.so\.6 .*AArch64|libstdc\+\+\.so\.6 \(/{print $NF; exit}')
  [ -n "$lib" ] && grep -qa 'GLIBCXX_3\.4\.32' "$lib"
}

if glibc_ok && libstdcxx_ok; then
  echo "[setup] glibc $glibc and libstdc++ are new enough for tfx 1.21."
  exit 0
fi

fail() {
  echo "[setup] ERROR: $1" >&2
  echo "[setup] tfx 1.21 needs glibc >= 2.39 and GLIBCXX_3.4.32 (ml-metadata and" >&2
  echo "[setup] tensorflow-data-validation ship only manylinux_2_39 wheels, which pip" >&2
  echo "[setup] installs only on glibc 2.39 or newer)." >&2
  echo "[setup] Use Debian 13 / Ubuntu 24.04 or newer, or run this on Debian 12 as root." >&2
  exit 1
}

. /etc/os-release
[ "${ID:-}" = "debian" ] && [ "${VERSION_ID:-}" = "12" ] || \
  fail "this is ${PRETTY_NAME:-an unknown system} with glibc $glibc; automatic fix only on Debian 12."
[ "$(id -u)" -eq 0 ] || fail "glibc $glibc is too old and the fix (apt-get) needs root."

# The archive URI from the machine's own apt configuration: deb822 first, then legacy lists.
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri=$(awk '
    /^[[:space:]]*$/ { if (u != "" && s !~ /security/ && s ~ /bookworm/) { print u; exit } u=""; s="" }
    /^URIs:/   { u=$2 }
    /^Suites:/ { s=$0 }
    END { if (u != "" && s !~ /security/ && s ~ /bookworm/) print u }' "$f" | head -n1)
  [ -n "$uri" ] && break
done
if [ -z "$uri" ]; then
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1=="deb" && $0 !~ /security/ && $0 ~ /bookworm/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}')
fi
[ -n "$uri" ] || fail "could not find a Debian archive URI in /etc/apt/sources.list(.d)."

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || fail "$keyring is missing (install debian-archive-keyring)."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=$keyring] $uri trixie main" > "$work/trixie.list"
opts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$work/trixie.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
echo "[setup] glibc $glibc is too old for tfx 1.21: installing libc6 and libstdc++6 from Debian 13 (trixie), archive $uri"
apt-get "${opts[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y -qq libc6 libstdc++6 >/dev/null
glibc_ok && libstdcxx_ok || fail "upgrade ran but glibc is still $(getconf GNU_LIBC_VERSION)."
echo "[setup] done: now $(getconf GNU_LIBC_VERSION); libstdc++ has GLIBCXX_3.4.32."
