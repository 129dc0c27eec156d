#!/usr/bin/env bash
# Run the gateway on its embedded defaults. With no OPENROUTER_API_KEY (in the environment or
# .env) it starts the mock OpenRouter too and prints a user token to try it with.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
key="${OPENROUTER_API_KEY:-}"
if [ -z "$key" ] && [ -f .env ]; then
  key="$(grep -E '^OPENROUTER_API_KEY=' .env | tail -n1 | cut -d= -f2- || true)"
fi
if [ -z "$key" ]; then
  # The browser example (/examples/browser/) needs its SDK bundles; the gateway runs without.
  scripts/example.sh || echo "the browser example is not built: the gateway runs without it" >&2
  exec .venv/bin/ai-gateway --mock-upstream "$@"
fi
exec .venv/bin/ai-gateway "$@"
