#!/usr/bin/env bash
# Baseline (d), optional: the LiteLLM proxy (one worker, model list pointing at the mock) in its own
# virtualenv, bench/.venv-litellm, so none of its dependencies reach the gateway's. Then the full
# run (bench/run.sh) with LiteLLM beside the mock, nginx and the gateway. Arguments pass through.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=bench/.venv-litellm
version="${LITELLM_VERSION:-1.106.2}" # the version the README's figures were measured with
if [ ! -x "$venv/bin/litellm" ]; then
  py="$(command -v python3.11 || command -v python3)"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  if ! "$venv/bin/python" -m pip install --quiet "litellm[proxy]==$version"; then
    rm -rf "$venv"
    echo "LiteLLM $version could not be installed here; bench/run.sh measures the rest" >&2
    exit 1
  fi
fi
exec bench/run.sh --litellm "$venv" "$@"
