#!/usr/bin/env bash
# Build the browser example's SDK bundles (examples/browser/vendor/) from its lock file.
# Re-runs are cheap: nothing is rebuilt while package-lock.json and build.mjs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/../examples/browser"
stamp="vendor/.built-$(cat package-lock.json build.mjs | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0
command -v node >/dev/null \
  || { echo "the browser example needs Node.js 20+ to build its SDK bundles" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
rm -rf vendor
node build.mjs
touch "$stamp"
