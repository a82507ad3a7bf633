#!/bin/sh
# gen-cert.sh DIR: make a self-signed TLS certificate for a local cpm-store,
# DIR/cert.pem and DIR/key.pem (ECDSA P-256, CN=localhost, SAN localhost and
# 127.0.0.1, valid 825 days), only if they are not there yet.
# Clients must be told to accept it (curl --insecure, "accept the exception"
# in a mail client), or trust DIR/cert.pem explicitly.
set -eu
dir=${1:-var/tls}
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ]; then
	exit 0
fi
command -v openssl >/dev/null 2>&1 || { echo "gen-cert: the openssl command is missing (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
umask 077
tmp=$(mktemp -d "$dir/.gen.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
	-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/err" || {
	cat "$tmp/err" >&2
	echo "gen-cert: openssl failed" >&2
	exit 1
}
chmod 600 "$tmp/key.pem"
chmod 644 "$tmp/cert.pem"
mv "$tmp/key.pem" "$dir/key.pem"
mv "$tmp/cert.pem" "$dir/cert.pem"
echo "gen-cert: made $dir/cert.pem (self-signed, localhost / 127.0.0.1)"
