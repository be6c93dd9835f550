#!/usr/bin/env bash
# gen-cert.sh DIR [--rsa] [--days N] [--name HOST] — make a self-signed TLS certificate for
# fleetlake (`make run TLS=1`, tests, benchmarks) with the openssl CLI.
#
# Writes DIR/tls/cert.pem and DIR/tls/key.pem (mode 0600) unless both already exist, and
# prints the two --set options that enable HTTPS with them. The key is ECDSA P-256, the type
# Mozilla's intermediate configuration recommends (--rsa: RSA 2048, for the DHE-RSA and
# ECDHE-RSA suites). The certificate names localhost, 127.0.0.1 and ::1 (plus --name HOST)
# so clients on this machine can verify it against itself: `fleetlake sim --cacert
# DIR/tls/cert.pem`, `curl --cacert DIR/tls/cert.pem`. Self-signed means every client must be
# given the file: for anything beyond a demo, use a certificate from your CA.
set -euo pipefail
dir=${1:?usage: gen-cert.sh DIR [--rsa] [--days N] [--name HOST]}
shift
kind=ec days=365 names="DNS:localhost,IP:127.0.0.1,IP:::1"
while [ $# -gt 0 ]; do
  case "$1" in
    --rsa) kind=rsa ;;
    --days) days=${2:?--days needs a number}; shift ;;
    --name) names="DNS:${2:?--name needs a host name},$names"; shift ;;
    *) echo "gen-cert.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
command -v openssl >/dev/null || { echo "gen-cert.sh: the openssl command is needed (apt-get install openssl)" >&2; exit 1; }
out="$dir/tls"
cert="$out/cert.pem" key="$out/key.pem"
if [ -s "$cert" ] && [ -s "$key" ]; then
  echo "gen-cert.sh: keeping the existing $cert and $key" >&2
else
  mkdir -p "$out"
  if [ "$kind" = rsa ]; then
    keyopt=(-newkey rsa:2048)
  else
    keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
  fi
  (umask 077; openssl req -x509 "${keyopt[@]}" -nodes -sha256 -days "$days" \
    -subj "/CN=fleetlake self-signed" -addext "subjectAltName=$names" \
    -addext "keyUsage=digitalSignature" -addext "extendedKeyUsage=serverAuth" \
    -keyout "$key" -out "$cert" 2>/dev/null)
  chmod 644 "$cert"
  echo "gen-cert.sh: wrote $cert and $key (self-signed, $kind, $days days)" >&2
fi
echo "--set tls.cert_file=$cert --set tls.key_file=$key"
