#!/usr/bin/env bash
# Builds dsv4 and runs the main job on the bundled model. Until the server lands this
# is greedy generation of token ids from the bundled checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
./build/apps/dsv4/dsv4 inspect --model models/tiny-random
exec ./build/apps/dsv4/dsv4 run --model models/tiny-random --prompt-tokens 0,5,17,42 --max-tokens 32 "$@"
