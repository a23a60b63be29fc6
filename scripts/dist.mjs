#!/usr/bin/env node
// The committed build (dist/) against a fresh one (build/). Run by scripts/build.sh and
// scripts/test.sh after `source scripts/env.sh`, so the build tools are the ones on PATH.
//
//   node scripts/dist.mjs update   copy build/ into dist/ and write dist/BUILD.json
//                                  (what `npm run build` ends with)
//   node scripts/dist.mjs check    exit 1 unless build/ is byte for byte dist/ and
//                                  dist/BUILD.json names these sources (what `npm test`,
//                                  and so CI, runs after building)
//   node scripts/dist.mjs source-digest   the digest of the Rust sources now (build.sh keeps
//                                  it in build/.source-sha256 when a build starts)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST_FILES, MANIFEST, REGENERATE, digests, readManifest, sourceDigest } from './lib/dist.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = join(ROOT, 'build');
const DIST = join(ROOT, 'dist');

/** First line of `cmd args` (or all lines), or a note that it did not run. */
function version(cmd, args, { all = false } = {}) {
  if (!cmd) return 'not found';
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `not found (${cmd})`;
  const lines = `${r.stdout}${r.stderr}`.trim().split('\n').map((l) => l.trim());
  return all ? lines : lines[0];
}

/**
 * The toolchain that produced build/ (env.sh selected it): enough to tell why two builds of
 * the same sources differ. Paths of this machine are left out; the remapping that keeps them
 * out of the wasm is recorded as the flags with the prefixes named, not their values.
 */
function toolchain() {
  const env = process.env;
  const flags = (env.CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((f) => f.replace(/^--remap-path-prefix=.*=(\/[a-z]+)$/, '--remap-path-prefix=<…>=$1'));
  return {
    rustc: version('rustc', ['-vV'], { all: true }),
    wasm32_std: env.GATEHOUSE_WASM_MODE === 'system' ? 'built from the distribution std sources (scripts/setup.sh)' : 'rustup target wasm32-unknown-unknown',
    wasm_rustflags: flags.join(' '),
    'worker-build': version('worker-build', ['--version']),
    'wasm-bindgen': version(env.WASM_BINDGEN_BIN, ['--version']),
    'wasm-opt': version(env.WASM_OPT_BIN, ['--version']),
    esbuild: version(env.ESBUILD_BIN, ['--version']),
  };
}

/** The sources build/ was made from: as recorded when the build started, else as they are now. */
function builtFrom() {
  const p = join(BUILD, '.source-sha256');
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : sourceDigest(ROOT);
}

function update() {
  const built = digests(BUILD);
  const missing = DIST_FILES.filter((f) => !built[f]);
  if (missing.length) fail(`build/ lacks ${missing.join(', ')}: the build did not finish`);
  mkdirSync(DIST, { recursive: true });
  for (const f of DIST_FILES) copyFileSync(join(BUILD, f), join(DIST, f));
  const manifest = {
    about: `The worker built from this repository's Rust source by \`${REGENERATE}\`; deploy and dev use it as is. CI rebuilds it and fails if the result differs.`,
    files: built,
    source_sha256: builtFrom(),
    toolchain: toolchain(),
  };
  writeFileSync(join(DIST, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  const wasm = built['index_bg.wasm'];
  console.log(`[dist] dist/ updated (index_bg.wasm ${wasm.bytes} bytes, sha256 ${wasm.sha256.slice(0, 16)}…); commit dist/ with your change`);
}

function check() {
  const fresh = digests(BUILD);
  const manifest = readManifest(ROOT);
  const committed = digests(DIST);
  const problems = [];
  for (const f of DIST_FILES) {
    if (!fresh[f]) fail(`build/${f} is missing: build first (bash scripts/build.sh)`);
    if (!committed[f]) problems.push(`dist/${f} is missing`);
    else if (committed[f].sha256 !== fresh[f].sha256) {
      problems.push(`dist/${f} differs from the fresh build (${committed[f].bytes} vs ${fresh[f].bytes} bytes)`);
    }
  }
  if (!manifest) problems.push(`dist/${MANIFEST} is missing or unreadable`);
  else {
    for (const f of DIST_FILES) {
      if (committed[f] && manifest.files?.[f]?.sha256 !== committed[f].sha256) problems.push(`dist/${MANIFEST} does not describe dist/${f}`);
    }
    if (manifest.source_sha256 !== sourceDigest(ROOT)) problems.push(`dist/${MANIFEST} was made from other Rust sources than these (src/, Cargo.toml, Cargo.lock)`);
  }
  if (!problems.length) {
    console.log(`[dist] dist/ is the build of this source (index_bg.wasm sha256 ${fresh['index_bg.wasm'].sha256.slice(0, 16)}…)`);
    return;
  }
  const lines = ['[dist] FAILED: the committed build in dist/ is not the build of this source:', ...problems.map((p) => `[dist]   - ${p}`)];
  // A toolchain difference explains a byte difference from the same sources.
  const now = toolchain();
  for (const [k, v] of Object.entries(now)) {
    const was = manifest?.toolchain?.[k];
    if (was !== undefined && JSON.stringify(was) !== JSON.stringify(v)) {
      lines.push(`[dist]   toolchain differs in ${k}: dist/ was built with ${JSON.stringify(was)}, this build with ${JSON.stringify(v)}`);
    }
  }
  lines.push(`[dist] Fix: run \`${REGENERATE}\` (needs the Rust toolchain: npm run setup) and commit dist/.`);
  console.error(lines.join('\n'));
  process.exit(1);
}

function fail(message) {
  console.error(`[dist] ERROR: ${message}`);
  process.exit(2);
}

const cmd = process.argv[2];
if (cmd === 'update') update();
else if (cmd === 'check') check();
else if (cmd === 'source-digest') console.log(sourceDigest(ROOT));
else fail('usage: node scripts/dist.mjs update|check|source-digest');
