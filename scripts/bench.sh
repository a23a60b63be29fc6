#!/usr/bin/env bash
# `npm run bench`: set up, build the worker, then bench/run.mjs (Gatehouse vs. the demo
# origin called directly vs. a baseline on @cloudflare/workers-oauth-provider, all under the
# Miniflare API on 127.0.0.1). Writes bench/RESULTS.md. Not part of `npm test`.
# Environment: BENCH_REPS, BENCH_SECONDS, BENCH_401_SECONDS, BENCH_CONNECTIONS,
# BENCH_COLD_SAMPLES, BENCH_ISOLATE_SAMPLES, BENCH_FLOWS, BENCH_TIME_LIMIT (see bench/run.mjs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
source "$here/env.sh"
cd "$GATEHOUSE_ROOT"

bash scripts/build.sh
# The fault build counts each request's sequential D1 round trips (target 4; never deployed).
bash scripts/build.sh --faults

# The Rust floor (bench/reference/rust-floor/Cargo.toml says what it is): built like Gatehouse,
# with the same toolchain, `worker-build --release` and the same binaryen pass, so the two wasm
# files differ only by what the code does. Skipped when its sources are older than its build.
# Also its variants: `deadline` (plus Gatehouse's origin timeout) and `identity` (plus headers of
# the sizes of Gatehouse's identity headers), which `--quick --rust-floor` sets beside it, and
# both at once (`required`), which the full run measures as a second reference. Each is skipped
# when its sources are older than its build.
floor_src=bench/reference/rust-floor
build_floor() { # <out dir> [cargo features]
  local out=$1 features=${2:-}
  # scripts/env.sh holds the binaryen arguments: a change there rebuilds the floors too.
  if [ -f "$out/worker/shim.mjs" ] && [ -z "$(find "$floor_src" src/edge/deadline.rs scripts/env.sh -newer "$out/worker/shim.mjs" -print -quit)" ]; then
    echo "[bench] Rust floor ${features:+($features) }up to date ($out)"
    return
  fi
  echo "[bench] building the Rust floor ${features:+($features) }into $out"
  rm -rf "$out"
  (cd "$floor_src" && CARGO_TARGET_DIR="$GATEHOUSE_ROOT/target/rust-floor${features:+-$features}" \
    worker-build --release --out-dir "$GATEHOUSE_ROOT/$out" ${features:+--features "$features"})
  "$WASM_OPT_BIN" "$out/index_bg.wasm" "${GATEHOUSE_WASM_OPT_ARGS[@]}" -o "$out/index_bg.wasm"
  [ -f "$out/worker/shim.mjs" ] || { echo "[bench] ERROR: $out/worker/shim.mjs was not produced" >&2; exit 1; }
}
build_floor bench/.tmp/rust-floor
build_floor bench/.tmp/rust-floor-deadline deadline
build_floor bench/.tmp/rust-floor-identity identity
build_floor bench/.tmp/rust-floor-required deadline,identity
exec node bench/run.mjs "$@"
