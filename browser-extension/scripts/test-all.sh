#!/usr/bin/env bash
# Installs the locked npm dependencies, type-checks, and runs the unit and end-to-end tests of
# the browser extension. Needs node >= 20 and Debian's chromium (scripts/setup installs it).
# The end-to-end tests run Chromium with --headless=new: no display needed.
#
# The host-dependent end-to-end tests (test/e2e/host-flow.test.js, portal-flow.test.js,
# kiosk-flow.test.js) run the real geid-host and `geid testkit` (virtual card, test PKI) behind a
# private pcscd with the vpcd reader; portal-flow.test.js also runs the reference portal
# (`geid-portal --demo`), kiosk-flow.test.js the portal and the House of Justice kiosk
# (`geid-kiosk`). This script builds the four binaries with cargo, unless GEID_HOST_BIN, GEID_BIN,
# GEID_PORTAL_BIN and GEID_KIOSK_BIN name prebuilt ones.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v npm >/dev/null || { echo "extension: npm not found; install Node.js 20 or newer" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "extension: Node.js 20 or newer is needed, found $(node --version)" >&2; exit 1; }
[ -x "${GEID_CHROMIUM:-/usr/bin/chromium}" ] \
  || { echo "extension: ${GEID_CHROMIUM:-/usr/bin/chromium} not found; run scripts/setup" >&2; exit 1; }

if [ -z "${GEID_HOST_BIN:-}" ] || [ -z "${GEID_BIN:-}" ] || [ -z "${GEID_PORTAL_BIN:-}" ] || [ -z "${GEID_KIOSK_BIN:-}" ]; then
  command -v cargo >/dev/null || { echo "extension: cargo not found; set GEID_HOST_BIN, GEID_BIN, GEID_PORTAL_BIN and GEID_KIOSK_BIN or install Rust" >&2; exit 1; }
  # The same build as test/e2e/world.js's BUILD_ARGS.
  (cd .. && cargo build --locked -p geid-host -p geid-cli -p geid-portal -p geid-kiosk --features geid-cli/testkit,geid-portal/demo)
  target_dir="$(cd .. && cargo metadata --format-version 1 --no-deps --locked \
    | node -e 'let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => console.log(JSON.parse(s).target_directory))')"
  export GEID_HOST_BIN="${GEID_HOST_BIN:-$target_dir/debug/geid-host}"
  export GEID_BIN="${GEID_BIN:-$target_dir/debug/geid}"
  export GEID_PORTAL_BIN="${GEID_PORTAL_BIN:-$target_dir/debug/geid-portal}"
  export GEID_KIOSK_BIN="${GEID_KIOSK_BIN:-$target_dir/debug/geid-kiosk}"
fi
echo "extension: geid-host $GEID_HOST_BIN, geid $GEID_BIN, geid-portal $GEID_PORTAL_BIN, geid-kiosk $GEID_KIOSK_BIN"

npm ci --no-audit --no-fund --loglevel=error
npx tsc -p tsconfig.json
echo "extension: type-check passed"
node --test test/unit/
e2e_started=$SECONDS
node --test --test-concurrency=1 test/e2e/
echo "extension: end-to-end tests took $((SECONDS - e2e_started)) s (timings: test-output/timings.json)"
npm run --silent package
