#!/usr/bin/env bash
# Create .venv and install the project into it (with dev tools when given "dev").
# Re-runs are cheap: nothing is reinstalled while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

extra="${1:-}"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then py="$candidate"; break; fi
  done
fi
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "ai-gateway needs Python 3.11 or newer ($py is older)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$py" -m venv .venv
spec="."
[ "$extra" = "dev" ] && spec=".[dev]"
# The image's pinned versions (requirements.lock) constrain .venv too: the tests run what the
# image runs, on any machine, and scripts/lock.py stays in step.
# The modules pyproject.toml names under [tool.ai-gateway] `compiled` are built in place with
# mypyc by the install (setup.py): a change to one reinstalls, and so does a source newer than
# what was built from it (a checkout back to an earlier version), or a module not built.
compiled=$("$py" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["ai-gateway"]["compiled"])')
stamp=".venv/.installed-$(cat pyproject.toml requirements.lock setup.py $compiled | sha256sum | cut -c1-16)-${extra:-run}"
# A compiled module is missing (deleted, or built without a compiler) where one could be built:
# build it too.
built=(ai_gateway_native__mypyc.*.so)
for source in $compiled; do built+=("${source%.py}".*.so); done
for so in "${built[@]}"; do
  if [ ! -e "$so" ]; then
    if [ -z "${AI_GATEWAY_PURE_PYTHON:-}" ] && command -v "$("$py" -c 'import sysconfig; print((sysconfig.get_config_var("CC") or "cc").split()[0])')" >/dev/null; then
      rm -f "${built[@]}" "$stamp"
      break
    fi
    continue
  fi
  for source in $compiled; do
    if [ "$source" -nt "$so" ]; then
      rm -f "${built[@]}" "$stamp"
      break 2
    fi
  done
done
if [ ! -f "$stamp" ]; then
  echo "installing ai-gateway${extra:+ with $extra tools} into .venv" >&2
  log=$(mktemp)
  # Quiet unless it fails: build back-ends print warnings that are noise on success.
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip \
      && .venv/bin/python -m pip install --quiet -c requirements.lock -e "$spec"; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  rm -f "$log" .venv/.installed-*-"${extra:-run}"
  touch "$stamp"
fi
