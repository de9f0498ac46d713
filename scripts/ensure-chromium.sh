#!/usr/bin/env bash
# Makes sure Debian's chromium is installed (the browser that the web client's test drives through
# playwright-core), with a colour emoji font so that emoji in test screenshots are drawn as emoji.
# Installs what is missing with apt-get; needs root (CI runs as root). Prints what it does; exits
# non-zero with a clear message when it cannot.
set -euo pipefail

bin=${CHROMIUM_PATH:-/usr/bin/chromium}
missing=()
if [ -x "$bin" ]; then
  echo "ensure-chromium: $bin is present ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
else
  echo "ensure-chromium: $bin is missing"
  missing+=(chromium)
fi
if command -v dpkg-query >/dev/null 2>&1 && ! dpkg-query -W -f='${Status}' fonts-noto-color-emoji 2>/dev/null | grep -q 'ok installed'; then
  echo "ensure-chromium: the emoji font (fonts-noto-color-emoji) is missing"
  missing+=(fonts-noto-color-emoji)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: cannot install ${missing[*]}: not root (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: cannot install ${missing[*]}: apt-get not found (not a Debian-like system)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt-get that holds the lock (up to 5 minutes) instead of failing at once.
echo "ensure-chromium: apt-get update"
if ! apt-get -o DPkg::Lock::Timeout=300 update -q; then
  echo "ensure-chromium: apt-get update failed (no network or no package mirror?)" >&2
  exit 1
fi
echo "ensure-chromium: apt-get install -y --no-install-recommends ${missing[*]}"
if ! apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"; then
  echo "ensure-chromium: apt-get install ${missing[*]} failed" >&2
  exit 1
fi
if [ ! -x "$bin" ]; then
  echo "ensure-chromium: chromium was installed but $bin is not there (set CHROMIUM_PATH?)" >&2
  exit 1
fi
echo "ensure-chromium: ready: $("$bin" --version 2>/dev/null || echo chromium)"
