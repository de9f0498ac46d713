#!/usr/bin/env bash
# Makes sure Debian's chromium is installed (the browser the web-client test drives through
# playwright-core). Installs it with apt-get when missing; needs root (CI runs as root).
# Prints what it does; exits non-zero with a clear message when it cannot.
set -euo pipefail

bin=${CHROMIUM_PATH:-/usr/bin/chromium}

if [ -x "$bin" ]; then
  echo "ensure-chromium: $bin is present ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

echo "ensure-chromium: $bin is missing; installing Debian's chromium package"
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: cannot install chromium: not root (run as root: apt-get install chromium)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: cannot install chromium: apt-get not found (not a Debian-like system)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: apt-get update"
if ! apt-get update -q; then
  echo "ensure-chromium: apt-get update failed (no network or package mirror?)" >&2
  exit 1
fi
echo "ensure-chromium: apt-get install -y --no-install-recommends chromium"
if ! apt-get install -y -q --no-install-recommends chromium; then
  echo "ensure-chromium: apt-get install chromium failed" >&2
  exit 1
fi
if [ ! -x "$bin" ]; then
  echo "ensure-chromium: chromium was installed but $bin is not there" >&2
  exit 1
fi
echo "ensure-chromium: installed $("$bin" --version 2>/dev/null || echo chromium)"
