#!/usr/bin/env bash
# The benchmark in one command: installs what it needs, then runs the mock, nginx and the gateway
# side by side and writes bench/results/<UTC timestamp>.md, latest.md and their .json.
#   bench/run.sh            full run (about 3 minutes on 2 cores)
#   bench/run.sh --quick    short runs and small stream levels, for development (results/quick/)
#   bench/run.sh --stage quotas    one stage's cost alone, for development (results/stage/)
# bench/litellm.sh runs the same with the LiteLLM proxy as a fourth baseline.
set -euo pipefail
cd "$(dirname "$0")/.."

# The gateway and the harness share the project's virtualenv (aiohttp, orjson, uvloop, jose).
scripts/setup.sh

# wrk is the load generator, nginx a baseline. Debian names both; elsewhere, or without root,
# a missing one is reported: no wrk means nothing is measured, no nginx skips that baseline.
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
# valgrind counts the quota stage's instructions (bench/instructions.py); without it, not counted.
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } \
      || echo "could not install ${missing[*]}; the report will say what was skipped" >&2
  else
    echo "missing ${missing[*]} (needs root and apt-get to install); the report will say so" >&2
  fi
fi

# 5,000 held streams need about 10,000 descriptors in the gateway alone.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

exec .venv/bin/python -m bench.harness "$@"
