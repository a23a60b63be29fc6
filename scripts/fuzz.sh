#!/usr/bin/env bash
# Fuzzes the protocol core natively with cargo-fuzz (libFuzzer): each target in fuzz/ runs for
# a set number of executions, then prints how many it ran. Exits non-zero if any target
# crashes (the input is left in fuzz/artifacts/<target>/). See docs/development.md, "Fuzzing".
#
#   scripts/fuzz.sh [runs-per-target] [target...]   (default: 100000 runs, every target)
#   scripts/fuzz.sh --smoke                          what npm test runs: 20000 runs per target
#   scripts/fuzz.sh --long [target...]               the long run: 10 million runs per target
#   scripts/fuzz.sh --merge [target...]              minimizes what the runs found into the committed
#                                                    corpus (libFuzzer -set_cover_merge=1), for a commit
#   GATEHOUSE_FUZZ_MAX_TIME=<s>   also stop each target after this many seconds (--smoke: 120)
#   GATEHOUSE_FUZZ_SANITIZER=none build without AddressSanitizer (2-4x more executions per second;
#                                 safe Rust gains little from it, panics and overflows still abort)
#   GATEHOUSE_FUZZ_ARGS="..."     extra libFuzzer flags, e.g. -max_len=1024
# Targets run one after another, niced (the machine is shared), each with its libFuzzer
# dictionary (fuzz/dicts/<target>.dict) and two corpora: the committed one, fuzz/corpus/<target>/
# (seed-* files written by hand, the rest the minimized finds of the long runs), read only; and
# fuzz/corpus-local/<target>/ (not committed), where a run writes what it finds, so fuzzing never
# leaves the work tree dirty. --merge folds corpus-local into corpus.
#
# cargo-fuzz needs nightly-only flags (-Z sanitizer, -C passes=sancov); RUSTC_BOOTSTRAP=1 lets
# the stable toolchain accept them. cargo-fuzz itself is installed once, pinned, into the cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/env.sh"
cd "$GATEHOUSE_ROOT/fuzz"

log() { printf '[fuzz] %s\n' "$*"; }
die() { printf '[fuzz] ERROR: %s\n' "$*" >&2; exit 1; }

TARGETS=(dcr_metadata authorize_query token_form redirect_uri jwt_verify policy_body passkey_cbor passkey_cose
  passkey_authenticator_data ecdsa_der foreign_jwt cimd_document sse_split http_date cookies_forms routing)
runs=100000
max_time="${GATEHOUSE_FUZZ_MAX_TIME:-0}"
merge=0
if [ "${1:-}" = --merge ]; then
  merge=1
  shift
elif [ "${1:-}" = --smoke ]; then
  runs=20000
  max_time="${GATEHOUSE_FUZZ_MAX_TIME:-120}"
  shift
elif [ "${1:-}" = --long ]; then
  runs=10000000
  shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  runs=$1
  shift
fi
[ $# -gt 0 ] && TARGETS=("$@")
for t in "${TARGETS[@]}"; do
  [ -f "fuzz_targets/$t.rs" ] || die "no fuzz target $t (have: $(cd fuzz_targets && ls | sed 's/\.rs$//' | tr '\n' ' '))"
done

# Native build: rustup's own toolchain, never the wasm32 one env.sh may select.
if [ -n "$GATEHOUSE_NATIVE_TOOLCHAIN" ]; then export RUSTUP_TOOLCHAIN="$GATEHOUSE_NATIVE_TOOLCHAIN"; else unset RUSTUP_TOOLCHAIN; fi
unset CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS

# ---- cargo-fuzz, pinned, installed once into the cache ------------------------------
CARGO_FUZZ_VERSION="${GATEHOUSE_CARGO_FUZZ_VERSION:-0.13.2}"
root="$GATEHOUSE_CACHE/tools/cargo-fuzz-$CARGO_FUZZ_VERSION"
if [ ! -x "$root/bin/cargo-fuzz" ]; then
  if pgrep -f "cargo install.*--root $root" >/dev/null 2>&1; then
    log "waiting for a running 'cargo install cargo-fuzz' into $root"
    while pgrep -f "cargo install.*--root $root" >/dev/null 2>&1; do sleep 5; done
  fi
  if [ ! -x "$root/bin/cargo-fuzz" ]; then
    log "cargo install cargo-fuzz --version $CARGO_FUZZ_VERSION (once; ~2 min)"
    (cd / && cargo install --quiet cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$root") \
      || die "cargo install cargo-fuzz $CARGO_FUZZ_VERSION failed"
  fi
fi
export PATH="$root/bin:$PATH"
export RUSTC_BOOTSTRAP=1

# AddressSanitizer when the toolchain ships its runtime (rustup's std does), else none:
# Rust code without `unsafe` gets no extra checks from it, panics are caught either way.
sysroot="$(rustc --print sysroot)"
host="$(rustc -vV | sed -n 's/^host: //p')"
if ls "$sysroot/lib/rustlib/$host/lib/"librustc-*_rt.asan.a >/dev/null 2>&1; then sanitizer=address; else sanitizer=none; fi
sanitizer="${GATEHOUSE_FUZZ_SANITIZER:-$sanitizer}"
read -r -a extra_args <<<"${GATEHOUSE_FUZZ_ARGS:-}"

# -O: optimised; debug assertions and overflow checks come from fuzz/Cargo.toml's release
# profile (not -a, which would force them on in every crate, idna_adapter's included).
flags=(-O --sanitizer "$sanitizer")
log "building ${#TARGETS[@]} target(s) (cargo-fuzz $CARGO_FUZZ_VERSION, sanitizer $sanitizer)"
build_log="$(mktemp)"
for t in "${TARGETS[@]}"; do
  nice cargo fuzz build "${flags[@]}" "$t" >"$build_log" 2>&1 || { tail -n 40 "$build_log" >&2; die "cargo fuzz build $t failed"; }
done
rm -f "$build_log"

if [ "$merge" = 1 ]; then
  for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "corpus-local/$t"
    out="$(mktemp -d)"
    before="$(ls "corpus/$t" | wc -l)"
    # -set_cover_merge: the smallest set of inputs that keeps every feature (libFuzzer picks
    # short ones), about half the files and a third of the bytes of -merge=1's.
    nice cargo fuzz run "${flags[@]}" "$t" "$out" "$PWD/corpus/$t" "$PWD/corpus-local/$t" -- -set_cover_merge=1 >"$out.log" 2>&1 \
      || { tail -n 20 "$out.log" >&2; die "merging $t failed"; }
    # libFuzzer names each unit by its SHA-1: drop the copies of the seeds, which stay as they are.
    for seed in "corpus/$t"/seed-*; do
      [ -f "$seed" ] && rm -f "$out/$(sha1sum "$seed" | cut -d' ' -f1)"
    done
    find "corpus/$t" -type f ! -name 'seed-*' -delete
    mv "$out"/* "corpus/$t/" 2>/dev/null || true
    rm -rf "$out" "$out.log" "corpus-local/$t"
    log "$t: corpus $before -> $(ls "corpus/$t" | wc -l) files ($(du -sb "corpus/$t" | cut -f1) bytes)"
  done
  exit 0
fi

status=0
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "corpus-local/$t" "artifacts/$t"
  out="$(mktemp)"
  log "running $t (-runs=$runs -max_total_time=$max_time)"
  set +e
  # libFuzzer writes what it finds into the first directory: corpus-local, which git ignores.
  dict=()
  [ -f "dicts/$t.dict" ] && dict=(-dict="$PWD/dicts/$t.dict")
  nice cargo fuzz run "${flags[@]}" "$t" "$PWD/corpus-local/$t" "$PWD/corpus/$t" -- \
    -runs="$runs" -max_total_time="$max_time" -timeout=10 -print_final_stats=1 "${dict[@]}" "${extra_args[@]}" >"$out" 2>&1
  rc=$?
  set -e
  done_line="$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$out" | tail -n1 || true)"
  execs="$(grep -E '^stat::number_of_executed_units:' "$out" | awk '{print $2}' | tail -n1 || true)"
  secs="$(grep -E '^Done ' "$out" | sed -E 's/.* in ([0-9]+) second.*/\1/' | tail -n1 || true)"
  if [ "$rc" -ne 0 ]; then
    status=1
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written|thread .* panicked' "$out" | head -n 20 | sed 's/^/[fuzz]   /' >&2 || true
    summary+=("$t: CRASHED after ${execs:-?} executions (exit $rc); input in fuzz/artifacts/$t/")
  else
    summary+=("$t: ${execs:-?} executions in ${secs:-?} s${done_line:+, no crash}")
  fi
  rm -f "$out"
done

for line in "${summary[@]}"; do log "$line"; done
[ "$status" -eq 0 ] && log "all ${#TARGETS[@]} targets ran without a crash" || log "FAILED: a target crashed"
exit "$status"
