#!/usr/bin/env bash
# A self-signed development certificate for localhost (ECDSA P-256, 825 days), made once.
#   scripts/dev-cert.sh DIR      writes DIR/dev-cert.pem and DIR/dev-key.pem
set -euo pipefail
dir=${1:?usage: dev-cert.sh DIR}
mkdir -p "$dir"
if [ -s "$dir/dev-cert.pem" ] && [ -s "$dir/dev-key.pem" ]; then exit 0; fi
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=localhost/O=Relance development" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "keyUsage=digitalSignature" -addext "extendedKeyUsage=serverAuth" \
  -keyout "$dir/dev-key.pem" -out "$dir/dev-cert.pem" >/dev/null 2>&1
echo "dev certificate: $dir/dev-cert.pem"
