#!/usr/bin/env bash
# ensure-openssl.sh: the OpenSSL and zlib development files the standalone CMake build links (epchatd,
# the C tests, the fuzzers: native/core/tls_*.cc, native/core/ws_deflate.cc). The addon needs none of
# this: it compiles against the OpenSSL and zlib headers Node ships and uses the copies inside node.
# When libssl-dev or zlib1g-dev is missing: installed with apt-get when running as root (CI),
# otherwise a clear message and exit status 1.
# Called by .ci/run, npm run test:native, scripts/fuzz.sh and scripts/sanitize.sh.
set -uo pipefail
have_ssl() {
  [ -f /usr/include/openssl/ssl.h ] || { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openssl; }
}
have_zlib() {
  [ -f /usr/include/zlib.h ] || { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists zlib; }
}
have() { have_ssl && have_zlib; }
have && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-openssl: installing libssl-dev zlib1g-dev (apt-get)"
  timeout 300 apt-get update -qq >/dev/null 2>&1
  timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev zlib1g-dev >/dev/null 2>&1
  have && exit 0
  echo "ensure-openssl: apt-get could not install libssl-dev zlib1g-dev" >&2
  exit 1
fi
echo "ensure-openssl: OpenSSL or zlib development files are missing: install them (sudo apt-get install libssl-dev zlib1g-dev)" >&2
exit 1
