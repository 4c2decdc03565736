#!/usr/bin/env bash
# Builds dsv4 and runs the main job: the API server on the bundled model (models/dsv4-mini,
# a small trained DeepSeek-V4-architecture model; see models/README.md).
# Extra arguments go to `dsv4 serve` (e.g. --port 8080, --host 0.0.0.0 --api-key KEY).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
./build/apps/dsv4/dsv4 inspect --model models/dsv4-mini
exec ./build/apps/dsv4/dsv4 serve --model models/dsv4-mini "$@"
