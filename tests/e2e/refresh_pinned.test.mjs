// scripts/refresh-pinned-documents.mjs against a local server standing for the vendors' hosts
// (--via, as the CIMD_FETCH fixture does): a changed document replaces its pinned copy, dated
// today; a challenge page, a 5xx, a document that names another client_id and one that is not
// JSON keep theirs, and the run says so and exits 1. No worker is involved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';
import { VENDOR, pinnedDocuments, startDocServer } from './doc_server.mjs';

const SCRIPT = join(ROOT, 'scripts/refresh-pinned-documents.mjs');
const ORIGINAL = pinnedDocuments().text;
const { CLAUDE, CLAUDE_CODE, CHATGPT, CODEX, VSCODE, OPENCODE } = VENDOR;

let docs;
let dir;
before(async () => {
  docs = await startDocServer();
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-pinned-'));
});
after(async () => {
  await docs?.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

const entry = (file, url) => JSON.parse(readFileSync(file, 'utf8')).documents.find((d) => d.client_id === url);

test('changed documents replace their pinned copies; failures keep theirs and fail the run', async () => {
  const file = join(dir, 'pinned.json');
  writeFileSync(file, ORIGINAL);
  const before = (url) => JSON.parse(ORIGINAL).documents.find((d) => d.client_id === url);
  const changed = before(CLAUDE).document.replace('"client_name":"Claude"', '"client_name":"Claude (new)"');
  docs.serve(CLAUDE, { body: changed });
  docs.serve(CLAUDE_CODE, { body: before(CLAUDE_CODE).document });
  docs.serve(CHATGPT, { status: 403, headers: { 'content-type': 'text/html', 'cf-mitigated': 'challenge' }, body: '<html>Just a moment...</html>' });
  docs.serve(CODEX, { status: 502, body: 'bad gateway' });
  docs.serve(VSCODE, { body: before(VSCODE).document.replace(VSCODE, 'https://vscode.dev/other.json') });
  docs.serve(OPENCODE, { body: '<!DOCTYPE html><p>maintenance</p>' });

  const r = await run(['--file', file, '--via', docs.base]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(entry(file, CLAUDE).document, changed, 'the text exactly as served');
  assert.equal(entry(file, CLAUDE).as_of, today);
  assert.equal(entry(file, CLAUDE_CODE).document, before(CLAUDE_CODE).document);
  assert.equal(entry(file, CLAUDE_CODE).as_of, today, 'an unchanged document is confirmed as of today');
  for (const url of [CHATGPT, CODEX, VSCODE, OPENCODE]) assert.deepEqual(entry(file, url), before(url), `${url} kept as it was`);
  assert.match(r.stdout, /CHANGED\s+https:\/\/claude\.ai\/oauth\/mcp-oauth-client-metadata/);
  assert.match(r.stdout, /kept\s+https:\/\/chatgpt\.com\/oauth\/client\.json: HTTP 403, a Cloudflare challenge/);
  assert.match(r.stdout, /kept\s+https:\/\/chatgpt\.com\/oauth\/codex\/client\.json: HTTP 502/);
  assert.match(r.stdout, /vscode\.dev.*client_id is "https:\/\/vscode\.dev\/other\.json", not its URL/);
  assert.match(r.stdout, /opencode\.ai.*not JSON/);
  assert.match(r.stdout, /1 changed, 4 kept as they were/);
  assert.ok(docs.requests.every((q) => q.accept === 'application/json'), 'asked for JSON');
});

test('--dry-run writes nothing; all fetched exits 0', async () => {
  const file = join(dir, 'dry.json');
  writeFileSync(file, ORIGINAL);
  for (const d of JSON.parse(ORIGINAL).documents) docs.serve(d.client_id, { body: d.document });
  const dry = await run(['--file', file, '--via', docs.base, '--dry-run']);
  assert.equal(dry.code, 0, dry.stdout + dry.stderr);
  assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  assert.match(dry.stdout, /0 changed, 0 kept as they were \(dry run: nothing written\)/);
  const real = await run(['--file', file, '--via', docs.base]);
  assert.equal(real.code, 0, real.stdout);
  for (const d of JSON.parse(ORIGINAL).documents) assert.equal(entry(file, d.client_id).document, d.document);
});
