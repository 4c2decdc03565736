#!/usr/bin/env bash
# Builds dsv4 and runs every test (ctest: unit, kernel, model, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
tests/tokenizer/install-node-deps.sh
tests/server/install-node-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
