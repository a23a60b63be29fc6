#!/usr/bin/env bash
# Builds the worker for wasm32: `worker-build --release` -> build/index.js + build/index_bg.wasm.
#   bash scripts/build.sh          build/ only (npm test; then `node scripts/dist.mjs check`)
#   bash scripts/build.sh --dist   then copy it into dist/, the committed build that deploy
#                                  and dev use, with dist/BUILD.json (`npm run build`)
#   bash scripts/build.sh --faults with the `test-faults` feature, into build-faults/ (only
#                                  for tests/e2e/storage_faults.test.mjs; never deployed)
# Needs scripts/setup.sh to have run once (npm run setup / npm test do that).
# Skips the work when nothing under src/, Cargo.toml or Cargo.lock changed since the
# last successful build (GATEHOUSE_FORCE_BUILD=1 rebuilds anyway).
set -euo pipefail

update_dist=0
out=build
features=()
for a in "$@"; do
  case "$a" in
    --dist) update_dist=1 ;;
    --faults) out=build-faults; features=(. --features test-faults) ;;
    *) echo "usage: scripts/build.sh [--dist | --faults]" >&2; exit 2 ;;
  esac
done
[ "$update_dist" = 0 ] || [ "$out" = build ] || { echo "[build] --dist and --faults do not mix" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"

for b in worker-build "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  command -v "$b" >/dev/null 2>&1 || { echo "[build] ERROR: $b not found; run: bash scripts/setup.sh" >&2; exit 1; }
done
if [ "$GATEHOUSE_WASM_MODE" = system ] && ! ls "$GATEHOUSE_WASM_TOOLCHAIN_DIR"/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1; then
  echo "[build] ERROR: wasm32 std missing ($GATEHOUSE_WASM_TOOLCHAIN_DIR); run: bash scripts/setup.sh" >&2
  exit 1
fi

# Everything that determines the output, other than the sources' mtimes.
key="$( {
  echo "${GATEHOUSE_WASM_OPT_ARGS[*]}"
  echo "$GATEHOUSE_WASM_MODE ${RUSTUP_TOOLCHAIN:-} ${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-}"
  echo "$GATEHOUSE_WORKER_BUILD_VERSION $GATEHOUSE_WASM_BINDGEN_VERSION ${GATEHOUSE_BUILD_ARGS:-} ${features[*]:-}"
} | sha256sum | cut -c1-16)"
stamp="$out/.gatehouse-build-$key"

report() {
  local w
  w="$(ls "$out"/*.wasm "$out"/worker/*.wasm 2>/dev/null | head -n1 || true)"
  [ -n "$w" ] || return 0
  printf '[build] %s: %s bytes raw, %s bytes gzip\n' "$w" "$(stat -c %s "$w")" "$(gzip -9 -c "$w" | wc -c)"
}

if [ -z "${GATEHOUSE_FORCE_BUILD:-}" ] && [ -f "$out/worker/shim.mjs" ] && [ -f "$stamp" ] \
  && [ -z "$(find src Cargo.toml Cargo.lock build.rs -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "[build] up to date ($out/worker/shim.mjs)"
  report
  [ "$update_dist" = 0 ] || node scripts/dist.mjs update
  exit 0
fi

t0=$(date +%s)
# The sources as they are when the build starts (edits made during the build are not in it).
mkdir -p "$out"
node scripts/dist.mjs source-digest >"$out/.source-sha256"
echo "[build] worker-build --release (wasm32 std: $GATEHOUSE_WASM_MODE${RUSTUP_TOOLCHAIN:+, toolchain $RUSTUP_TOOLCHAIN})"
rm -f "$out"/.gatehouse-build-*
touch_ref="$(mktemp)"
# shellcheck disable=SC2086
worker-build --release --out-dir "$out" ${GATEHOUSE_BUILD_ARGS:-} "${features[@]}"
[ -f "$out/worker/shim.mjs" ] || { echo "[build] ERROR: $out/worker/shim.mjs was not produced" >&2; exit 1; }
# binaryen's -O runs here rather than in worker-build (Cargo.toml turns worker-build's off):
# worker-build keeps the name section while it optimises (`--debuginfo`), and the same -O
# without names came out 1.5-1.8 KB gzip smaller on the same input. The feature list is
# worker-build's own (what workerd runs; nothing newer).
# `-ocimfs 20`: binaryen inlines a function with one caller whatever its size (`-O`'s default);
# here only up to size 20. V8 compiles each wasm function whole on its first call, so a request
# that reaches one branch of a large merged function compiled all of them: a cold first request
# (no-token 401) is 1.2 ms faster without that, the gzip 13.8 KB smaller, `tools/call` no slower
# (bench/NOTES.md, session 29).
# The wasm's "function names" section was 18 % of its bytes (about 40 KB gzipped) and only
# names frames in a panic's stack trace (the panic message is still logged). It is removed
# here, after wasm-bindgen, rather than by `strip = true` in Cargo.toml: that also drops the
# target_features section wasm-bindgen reads to see which wasm features are on.
# The arguments are GATEHOUSE_WASM_OPT_ARGS (scripts/env.sh).
"$WASM_OPT_BIN" "$out/index_bg.wasm" "${GATEHOUSE_WASM_OPT_ARGS[@]}" -o "$out/index_bg.wasm"
# Stamp with the time the build started, so edits made during the build trigger the next one.
mkdir -p "$out"
touch -r "$touch_ref" "$stamp"
rm -f "$touch_ref"
echo "[build] built in $(( $(date +%s) - t0 ))s"
report
[ "$update_dist" = 0 ] || node scripts/dist.mjs update
