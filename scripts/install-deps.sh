#!/usr/bin/env bash
# install-deps.sh PROFILE... — make sure the Debian packages fleetlake needs are installed.
# Profiles: build (compile and run), test (make test), bench (make bench), fuzz (libFuzzer).
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libgnutls28-dev libinih-dev libcurl4-openssl-dev
            libjansson-dev libsqlite3-dev libssl-dev zlib1g-dev libsnappy-dev libzstd-dev tzdata)
test_pkgs=(libcmocka-dev python3 python3-aiosmtpd curl openssl procps chromium fonts-dejavu-core
           prometheus)  # prometheus: promtool
bench_pkgs=(influxdb procps)
fuzz_pkgs=(clang libclang-rt-dev)

want=()
for profile in "${@:-build}"; do
  case "$profile" in
    build) want+=("${build_pkgs[@]}") ;;
    test)  want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    fuzz)  want+=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
    *) echo "install-deps.sh: unknown profile '$profile' (build, test, bench, fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    [[ " ${missing[*]-} " == *" $p "* ]] || missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "fleetlake needs these Debian packages; run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
