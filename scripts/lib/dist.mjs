// The committed build in dist/: the worker as `npm run build` made it from this repository's
// Rust source, so deploying and trying Gatehouse need no Rust toolchain. dist/BUILD.json says
// what it is: the sha256 of each file, a digest of the Rust sources it was built from, and
// the toolchain that built it (so a rebuild that differs explains itself).
//
// Only node: built-ins here; deploy and dev read this on machines without any build tools.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The files of the build, relative to dist/ (and to build/, where worker-build writes them). */
export const DIST_FILES = ['index.js', 'index_bg.wasm'];
export const MANIFEST = 'BUILD.json';
/** The one command that regenerates dist/ (and what CI's message tells people to run). */
export const REGENERATE = 'npm run build';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** { file: { bytes, sha256 } } of the build files in `dir`; a missing file has no entry. */
export function digests(dir) {
  const out = {};
  for (const f of DIST_FILES) {
    const p = join(dir, f);
    if (!existsSync(p)) continue;
    const bytes = readFileSync(p);
    out[f] = { bytes: bytes.length, sha256: sha256(bytes) };
  }
  return out;
}

/** What the build is made from: src/**, Cargo.toml, Cargo.lock (and build.rs if one appears). */
function sourceFiles(root) {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  if (existsSync(join(root, 'src'))) walk(join(root, 'src'));
  for (const f of ['Cargo.toml', 'Cargo.lock', 'build.rs']) if (existsSync(join(root, f))) files.push(join(root, f));
  return files;
}

/**
 * One digest over the Rust sources: each file's path (with `/`) and content, CRLF read as LF
 * so that a Windows checkout with autocrlf gives the same answer.
 */
export function sourceDigest(root) {
  const h = createHash('sha256');
  for (const p of sourceFiles(root)) {
    const text = readFileSync(p).toString('latin1').replace(/\r\n/g, '\n');
    h.update(`${relative(root, p).split(sep).join('/')}\0${sha256(Buffer.from(text, 'latin1'))}\n`);
  }
  return h.digest('hex');
}

export function readManifest(root) {
  const p = join(root, 'dist', MANIFEST);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Checks a build directory before it is deployed or served (default: the repository's dist/):
 * every file present and as its BUILD.json says. Returns { ok, problems[], stale } where
 * `stale` means the Rust sources under `root` differ from the ones it was built from, i.e. it
 * is not the build of this checkout.
 */
export function inspectDist(root, distDir = join(root, 'dist')) {
  const manifestPath = join(distDir, MANIFEST);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    /* reported below */
  }
  const problems = [];
  if (!manifest?.files) {
    problems.push(`${MANIFEST} is missing or unreadable in ${distDir}`);
    return { ok: false, problems, stale: false };
  }
  const have = digests(distDir);
  for (const f of DIST_FILES) {
    const want = manifest.files[f];
    if (!have[f]) problems.push(`${f} is missing`);
    else if (!want || want.sha256 !== have[f].sha256) problems.push(`${f} does not match ${MANIFEST}`);
  }
  return { ok: problems.length === 0, problems, stale: manifest.source_sha256 !== sourceDigest(root) };
}
