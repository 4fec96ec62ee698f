#!/usr/bin/env bash
# Installs the locked npm dependencies, type-checks, and runs the unit and end-to-end tests of
# the browser extension. Needs node >= 20 and Debian's chromium (scripts/setup installs it).
# The end-to-end tests run Chromium with --headless=new: no display needed.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v npm >/dev/null || { echo "extension: npm not found; install Node.js 20 or newer" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "extension: Node.js 20 or newer is needed, found $(node --version)" >&2; exit 1; }
[ -x "${GEID_CHROMIUM:-/usr/bin/chromium}" ] \
  || { echo "extension: ${GEID_CHROMIUM:-/usr/bin/chromium} not found; run scripts/setup" >&2; exit 1; }

npm ci --no-audit --no-fund --loglevel=error
npx tsc -p tsconfig.json
echo "extension: type-check passed"
node --test test/unit/
node --test --test-concurrency=1 test/e2e/
npm run --silent package
