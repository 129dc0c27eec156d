#!/usr/bin/env bash
# Static checks: types, lint, formatting, and the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/mypy
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/hadolint Dockerfile
.venv/bin/lint-imports --no-cache
echo "lint: clean"
