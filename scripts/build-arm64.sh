#!/usr/bin/env bash
# Cross-builds dsv4 for 64-bit ARM Linux into build-arm64/ and, with --test, runs its
# tests there under qemu-user (user-mode emulation: minutes of CPU for what takes
# seconds natively). On an ARM machine itself, scripts/build.sh builds natively.
# Debian packages only: g++-aarch64-linux-gnu, qemu-user, and the arm64 -dev packages
# through multiarch (dpkg --add-architecture arm64). Idempotent.
#   scripts/build-arm64.sh [--test [ctest arguments...]]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh  # the host's cmake, ninja, header-only libraries, node for the tests
packages=(g++-aarch64-linux-gnu qemu-user libabsl-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
          libpcre2-dev:arm64 libcpp-httplib-dev:arm64 libbenchmark-dev:arm64)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake >/dev/null
ninja -C build-arm64 -j"$(nproc)"
if [ "${1:-}" = "--test" ]; then
  shift
  ctest --test-dir build-arm64 --output-on-failure -j"$(nproc)" "$@"
fi
