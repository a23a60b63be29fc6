#!/usr/bin/env bash
# `npm run soak`: set up, build the worker, then scripts/soak.mjs (see there). Not part of
# `npm test`, which runs the short version (tests/e2e/soak.test.mjs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GATEHOUSE_SKIP_E2E= bash "$here/setup.sh"
source "$here/env.sh"
cd "$GATEHOUSE_ROOT"
bash scripts/build.sh
# The memory probe runs the test-faults build, whose answers report the wasm memory.
bash scripts/build.sh --faults
exec node scripts/soak.mjs "$@"
