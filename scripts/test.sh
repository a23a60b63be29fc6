#!/usr/bin/env bash
# `npm test`: set up, native Rust tests, wasm32 build (compared with the committed dist/),
# end-to-end tests in workerd.
# Exits non-zero if any part fails; the output ends with the runners' own summaries.
#   GATEHOUSE_SKIP_E2E=1   run only the native tests (and the build)
#   extra arguments replace the e2e file list (e.g. npm test -- tests/e2e/flow.test.mjs)
#   the fuzz smoke (scripts/fuzz.sh --smoke) runs only in the full run (no arguments, no
#   GATEHOUSE_SKIP_E2E); GATEHOUSE_SKIP_FUZZ=1 skips it there, GATEHOUSE_FUZZ=1 forces it
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
source "$here/env.sh"
cd "$GATEHOUSE_ROOT"

log() { printf '[test] %s\n' "$*"; }
t0=$(date +%s)

# ---- native Rust tests: rustup's own toolchain, host target ----------------------
log "cargo test (native)"
native_rc=0
native_log="$(mktemp)"
(
  if [ -n "$GATEHOUSE_NATIVE_TOOLCHAIN" ]; then export RUSTUP_TOOLCHAIN="$GATEHOUSE_NATIVE_TOOLCHAIN"; else unset RUSTUP_TOOLCHAIN; fi
  cargo test --color never 2>&1
) | tee "$native_log" || native_rc=$?
native_summary="$(grep -E '^test result:' "$native_log" || true)"
rm -f "$native_log"

# ---- wasm32 build ------------------------------------------------------------------
build_rc=0
log "building the worker (wasm32)"
bash scripts/build.sh || build_rc=$?

# The fault suite (tests/e2e/storage_faults.test.mjs) and the store conformance suite
# (store_conformance.test.mjs) run a second build with the `test-faults` feature, in
# build-faults/; built only when one of them is going to run.
faults_wanted=0
if [ -z "${GATEHOUSE_SKIP_E2E:-}" ] && [ "$build_rc" -eq 0 ]; then
  if [ $# -eq 0 ]; then faults_wanted=1; fi
  for a in "$@"; do case "$a" in *storage_faults*|*store_conformance*|*'*'*) faults_wanted=1 ;; esac; done
fi
if [ "$faults_wanted" = 1 ]; then
  log "building the test build: storage faults on request, the store conformance route (build-faults/)"
  bash scripts/build.sh --faults || build_rc=$?
fi

# ---- the committed build (dist/) must be this build, byte for byte ----------------------
# What deploy uploads and dev serves is dist/; CI (.ci/run is npm test) fails when it is not
# the build of the source. `npm run build` regenerates it.
dist_rc=0
if [ "$build_rc" -eq 0 ]; then
  log "comparing the committed build (dist/) with this build"
  node scripts/dist.mjs check || dist_rc=$?
fi

# ---- fuzz smoke: every cargo-fuzz target briefly (native) ----------------------------
fuzz_rc=0
fuzz_log="$(mktemp)"
if [ -n "${GATEHOUSE_FUZZ:-}" ] || { [ $# -eq 0 ] && [ -z "${GATEHOUSE_SKIP_E2E:-}" ] && [ -z "${GATEHOUSE_SKIP_FUZZ:-}" ]; }; then
  log "fuzz smoke (scripts/fuzz.sh --smoke)"
  set +e
  bash scripts/fuzz.sh --smoke 2>&1 | tee "$fuzz_log"
  fuzz_rc=${PIPESTATUS[0]}
  set -e
else
  log "skipping the fuzz smoke (runs in the full npm test, or with GATEHOUSE_FUZZ=1)"
fi

# ---- end-to-end tests in workerd -----------------------------------------------------
# Node 22's `node --test` takes files or globs, not a directory: tests are
# tests/e2e/**/*.test.{mjs,js,cjs}. The harness starts `wrangler dev` itself.
e2e_rc=0
e2e_log="$(mktemp)"
if [ -n "${GATEHOUSE_SKIP_E2E:-}" ]; then
  log "GATEHOUSE_SKIP_E2E set: skipping the end-to-end tests"
elif [ "$build_rc" -ne 0 ]; then
  log "worker build failed: skipping the end-to-end tests"
elif [ $# -eq 0 ] && [ -z "$(find tests/e2e -name '*.test.mjs' -o -name '*.test.js' -o -name '*.test.cjs' 2>/dev/null | head -n1)" ]; then
  log "no end-to-end tests (tests/e2e/**/*.test.mjs) yet"
else
  [ -f "$GATEHOUSE_PY_REQUIREMENTS" ] && [ ! -x "$GATEHOUSE_VENV/bin/python" ] && log "warning: no python venv at $GATEHOUSE_VENV"
  log "node --test tests/e2e ($(node --version), wrangler $GATEHOUSE_WRANGLER_VERSION, python venv $GATEHOUSE_VENV)"
  set +e
  if [ $# -gt 0 ]; then
    node --test --test-concurrency=1 --test-reporter=spec "$@" </dev/null 2>&1 | tee "$e2e_log"
  else
    node --test --test-concurrency=1 --test-reporter=spec 'tests/e2e/**/*.test.{mjs,js,cjs}' </dev/null 2>&1 | tee "$e2e_log"
  fi
  e2e_rc=${PIPESTATUS[0]}
  set -e
fi

# ---- verdict, then the runners' own summary lines last ----------------------------
echo
log "finished in $(( $(date +%s) - t0 ))s"
status=0
[ "$native_rc" -eq 0 ] || { log "FAILED: cargo test (exit $native_rc)"; status=1; }
[ "$build_rc" -eq 0 ] || { log "FAILED: worker build (exit $build_rc)"; status=1; }
[ "$dist_rc" -eq 0 ] || { log "FAILED: dist/ is not the build of this source; run npm run build and commit dist/"; status=1; }
[ "$e2e_rc" -eq 0 ] || { log "FAILED: end-to-end tests (exit $e2e_rc)"; status=1; }
[ "$fuzz_rc" -eq 0 ] || { log "FAILED: fuzz smoke (exit $fuzz_rc)"; status=1; }
[ "$status" -eq 0 ] && log "PASSED"
if [ -s "$fuzz_log" ]; then
  echo "fuzz smoke:"
  grep -E '^\[fuzz\] [a-z_]+: ' "$fuzz_log" || true
fi
rm -f "$fuzz_log"
if [ -n "$native_summary" ]; then
  echo "cargo test:"
  printf '%s\n' "$native_summary"
fi
if [ -s "$e2e_log" ]; then
  echo "node --test (end-to-end):"
  grep -E '^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$e2e_log" || true
fi
rm -f "$e2e_log"
exit "$status"
