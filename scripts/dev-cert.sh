#!/usr/bin/env bash
# dev-cert.sh [DIR] [--force]: a development certificate for epchat's TLS listeners, in one command
# (`npm run cert`, README "TLS"). Self-signed, ECDSA P-256, SHA-256, valid a year, for the names a
# local client uses: DNS localhost, IP 127.0.0.1 and ::1. Writes DIR/cert.pem and DIR/key.pem (the
# key created mode 0600, never readable by anyone else even for an instant); DIR defaults to ./certs.
# Refuses to overwrite an existing pair unless --force. For development only: clients must be told
# to trust it (node: ca: fs.readFileSync('certs/cert.pem'); openssl s_client -CAfile certs/cert.pem).
set -euo pipefail
dir=certs
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "dev-cert: unknown option $arg (usage: dev-cert.sh [DIR] [--force])" >&2; exit 2 ;;
    *) dir=$arg ;;
  esac
done
command -v openssl >/dev/null 2>&1 || { echo "dev-cert: the openssl command is missing (apt-get install openssl)" >&2; exit 1; }
cert=$dir/cert.pem
key=$dir/key.pem
if [ "$force" -eq 0 ] && { [ -e "$cert" ] || [ -e "$key" ]; }; then
  echo "dev-cert: $cert or $key exists; pass --force to replace them" >&2
  exit 1
fi
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.dev-cert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(
  umask 077
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes -days 365 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
)
chmod 600 "$tmp/key.pem"
chmod 644 "$tmp/cert.pem"
mv -f "$tmp/key.pem" "$key"
mv -f "$tmp/cert.pem" "$cert"
echo "dev-cert: wrote $cert and $key (mode 600)"
openssl x509 -in "$cert" -noout -subject -enddate -ext subjectAltName 2>/dev/null | sed 's/^/  /'
