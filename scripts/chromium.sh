#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/test_browser.py), unless it is there.
# Playwright drives it; Playwright's own browser download cannot work on a closed network.
set -euo pipefail
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] && exit 0
command -v apt-get >/dev/null \
  || { echo "the browser tests need Chromium: install it, and set CHROMIUM to its path" >&2; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing Debian's chromium for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# The package lists may be older than the archive: update them once if the first try fails.
if ! $sudo apt-get install -y -q chromium >"$log" 2>&1; then
  { $sudo apt-get update -q && $sudo apt-get install -y -q chromium; } >"$log" 2>&1 \
    || { cat "$log" >&2; exit 1; }
fi
rm -f "$log"
