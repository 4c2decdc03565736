#!/usr/bin/env bash
# Installs the npm clients of the server API tests (the official `openai` and
# `@anthropic-ai/sdk` packages, Claude Code and OpenCode) into tests/server/node_modules.
# Idempotent: does nothing when they are present. Needs node and npm
# (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/openai/package.json ] && [ -f node_modules/@anthropic-ai/sdk/package.json ] &&
   [ -x node_modules/.bin/claude ] && [ -x node_modules/.bin/opencode ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || ../../scripts/install-deps.sh
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
