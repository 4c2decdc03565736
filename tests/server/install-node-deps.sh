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
# `npm install --no-save` rather than `npm ci`: opencode-ai lists a platform package per OS as
# optional dependencies and the registry mirror here lacks most of them, so the lock file can
# never be "in sync" for `npm ci`; install still honours the locked versions of what resolves
# and leaves package-lock.json untouched.
npm install --no-save --no-audit --no-fund --loglevel=error
