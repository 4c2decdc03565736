#!/usr/bin/env bash
# Installs the Debian packages that building and testing dsv4 need. Idempotent: does
# nothing when they are all present.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev libbenchmark-dev
          nlohmann-json3-dev libpcre2-dev)
packages+=(libcpp-httplib-dev)  # the API server (dsv4 serve): Debian's cpp-httplib
packages+=(libabsl-dev)  # absl::FunctionRef: the thread pool's loop bodies without heap allocation
packages+=(libhwy-dev)  # Highway, for bench/highway_fp4_ab (the SIMD layer measured against it)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node + npm run the tokenizer tests' JavaScript reference; any install of them will do
# (Debian's packages, or a NodeSource nodejs that bundles npm).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
