#!/usr/bin/env bash
# `npm run bench`: set up, build the worker, then bench/run.mjs (Gatehouse vs. the demo
# origin called directly vs. a baseline on @cloudflare/workers-oauth-provider, all under the
# Miniflare API on 127.0.0.1). Writes bench/RESULTS.md. Not part of `npm test`.
# Environment: BENCH_REPS, BENCH_SECONDS, BENCH_401_SECONDS, BENCH_CONNECTIONS,
# BENCH_TIME_LIMIT (see bench/run.mjs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
source "$here/env.sh"
cd "$GATEHOUSE_ROOT"

bash scripts/build.sh
exec node bench/run.mjs "$@"
