#!/usr/bin/env node
// Refreshes Gatehouse's pinned copies of vendors' Client ID Metadata Documents
// (src/protocol/cimd/pinned_documents.json; docs/clients.md, "Pinned copies").
//
// Fetches each document from its URL the way Gatehouse does (GET, Accept: application/json,
// redirects not followed, at most 5 KB) and, when the vendor serves a document that passes the
// basic checks (a JSON object whose client_id is its URL, with redirect_uris), stores its text
// exactly as served, dated today (`as_of`; the URL it came from is its client_id). A document that cannot be fetched
// (a challenge page, an error, no answer) or that fails the checks keeps its old copy, and the
// run exits 1 naming it: review those by hand. Review every change before committing it, as
// Gatehouse will trust the text when the vendor's host does not answer.
//
//   node scripts/refresh-pinned-documents.mjs [--file <path>] [--via <url>] [--dry-run]
//     --file     the pinned documents file (default src/protocol/cimd/pinned_documents.json)
//     --via      send each request to this server instead, naming the document's host in the
//                `x-cimd-host` header, as the tests' CIMD_FETCH fixture does: for testing
//                without the internet (tests/e2e/refresh_pinned.test.mjs)
//     --dry-run  report, write nothing
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_BYTES = 5 * 1024;
const TIMEOUT_MS = 10_000;

function parseArgs(argv) {
  const opts = { file: join(ROOT, 'src/protocol/cimd/pinned_documents.json'), via: null, dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--file') opts.file = resolve(argv[++i] ?? '');
    else if (a === '--via') opts.via = argv[++i];
    else if (a === '--dry-run') opts.dryRun = true;
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (see --help)`);
  }
  return opts;
}

/** One GET of `url` (or of the same path on `via`); resolves { status, headers, text } or throws. */
async function fetchDocument(url, via) {
  const target = via ? new URL(new URL(url).pathname + new URL(url).search, via) : new URL(url);
  const headers = { accept: 'application/json' };
  if (via) headers['x-cimd-host'] = new URL(url).host;
  const res = await fetch(target, { headers, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_BYTES) throw new Error(`larger than ${MAX_BYTES} bytes`);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes };
}

/** Why `text` is not usable as the document at `url`, or null. */
function problem(url, bytes) {
  if (bytes.length > MAX_BYTES) return `larger than ${MAX_BYTES} bytes`;
  let doc;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return 'not a JSON object';
  if (doc.client_id !== url) return `its client_id is ${JSON.stringify(doc.client_id)}, not its URL`;
  if (!Array.isArray(doc.redirect_uris) || !doc.redirect_uris.length) return 'no redirect_uris';
  return null;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const file = JSON.parse(readFileSync(opts.file, 'utf8'));
  const today = new Date().toISOString().slice(0, 10);
  const failed = [];
  let changed = 0;
  for (const entry of file.documents) {
    const url = entry.client_id;
    let answer;
    try {
      answer = await fetchDocument(url, opts.via);
    } catch (e) {
      failed.push(url);
      console.log(`kept     ${url}: fetch failed (${e.message})`);
      continue;
    }
    if (answer.status !== 200) {
      const challenge = answer.headers.get('cf-mitigated') === 'challenge' ? ', a Cloudflare challenge' : '';
      failed.push(url);
      console.log(`kept     ${url}: HTTP ${answer.status}${challenge}`);
      continue;
    }
    const why = problem(url, answer.bytes);
    if (why) {
      failed.push(url);
      console.log(`kept     ${url}: the vendor now serves a document Gatehouse would refuse (${why}); review by hand`);
      continue;
    }
    const text = answer.bytes.toString('utf8');
    const same = text === entry.document;
    if (!same) changed++;
    entry.document = text;
    entry.as_of = today;
    console.log(`${same ? 'same    ' : 'CHANGED '} ${url}`);
  }
  if (!opts.dryRun) writeFileSync(opts.file, `${JSON.stringify(file, null, 2)}\n`);
  console.log(`${changed} changed, ${failed.length} kept as they were${opts.dryRun ? ' (dry run: nothing written)' : ''}`);
  if (failed.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(`refresh-pinned-documents: ${e.message}`);
  process.exit(2);
});
