#!/usr/bin/env bash
# ensure-openssl.sh: the OpenSSL development files the standalone CMake build links (epchatd, the C
# tests, the fuzzers: native/core/tls_*.cc). The addon needs none of this: it compiles against the
# OpenSSL headers Node ships and uses the OpenSSL inside node. When libssl-dev is missing: installed
# with apt-get when running as root (CI), otherwise a clear message and exit status 1.
# Called by .ci/run, npm run test:native, scripts/fuzz.sh and scripts/sanitize.sh.
set -uo pipefail
have() {
  [ -f /usr/include/openssl/ssl.h ] || { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openssl; }
}
have && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-openssl: installing libssl-dev (apt-get)"
  timeout 300 apt-get update -qq >/dev/null 2>&1
  timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev >/dev/null 2>&1
  have && exit 0
  echo "ensure-openssl: apt-get could not install libssl-dev" >&2
  exit 1
fi
echo "ensure-openssl: OpenSSL development files are missing: install libssl-dev (sudo apt-get install libssl-dev)" >&2
exit 1
