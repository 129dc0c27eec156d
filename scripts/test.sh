#!/usr/bin/env bash
# Install everything the tests need from the project's own files, then lint and run every test:
# unit tests, route tests against the mock OpenRouter process, the real @insforge/sdk client,
# and the browser example in Debian's Chromium (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
command -v node >/dev/null || { echo "the client tests need Node.js 20+ on PATH" >&2; exit 1; }
lock_stamp="tests/clients/node_modules/.installed-$(sha256sum tests/clients/package-lock.json | cut -c1-16)"
if [ ! -f "$lock_stamp" ]; then
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
  touch "$lock_stamp"
fi
scripts/example.sh
scripts/chromium.sh
scripts/lint.sh
exec .venv/bin/pytest "$@"
