// The D1 backup and restore of docs/operations.md, rehearsed against local D1 as far as
// wrangler allows: `wrangler d1 export` of a live Gatehouse database, the export executed into
// an empty database, and Gatehouse carrying on from it (a client's refresh token still works).
// Time Travel (`wrangler d1 time-travel info|restore`) exists only for remote databases: it
// cannot run here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, startHarness } from './harness.mjs';
import { initializeBody, manualFlow, mcpPost, refresh } from './oauth.mjs';

const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
let h;
before(async () => {
  h = await startHarness({ name: 'backup' });
});
after(async () => {
  await h?.stop();
});

function wrangler(args) {
  return new Promise((res, rej) => {
    execFile(process.execPath, [WRANGLER, ...args, '-c', h.configPath], {
      cwd: dirname(h.configPath),
      timeout: 120_000,
      maxBuffer: 16 << 20,
      env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', WRANGLER_SEND_ERROR_REPORTS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
    }, (err, stdout, stderr) => (err ? rej(new Error(`wrangler ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`)) : res(`${stdout}\n${stderr}`)));
  });
}

/** Every table's rows (D1's own _cf_ tables aside), in a stable order. */
async function snapshot() {
  const tables = (await h.sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")).map((r) => r.name);
  const out = {};
  for (const t of tables) out[t] = await h.sql(`SELECT * FROM "${t}" ORDER BY rowid`);
  return out;
}

test('an export restored into an empty database: the same rows, no migration pending, and clients carry on', async () => {
  const flow = await manualFlow(h);
  assert.equal(flow.token.status, 200);
  const before = await snapshot();
  assert.ok(before.clients.length >= 1 && before.grants.length >= 1 && before.refresh_tokens.length >= 1);
  assert.ok(before.d1_migrations.length >= 8, 'the migrations table travels with the data');

  // `wrangler d1 export --local` reads <config dir>/.wrangler/state (it has no --persist-to).
  const stateLink = join(dirname(h.configPath), '.wrangler/state');
  mkdirSync(dirname(stateLink), { recursive: true });
  if (!existsSync(stateLink)) symlinkSync(h.persistDir, stateLink);
  const file = join(dirname(h.configPath), 'backup.sql');
  await wrangler(['d1', 'export', 'DB', '--local', '--output', file]);
  const sql = readFileSync(file, 'utf8');
  assert.match(sql, /CREATE TABLE clients/);
  assert.ok(sql.includes(flow.client.client_id), 'the rows are in the export');
  assert.ok(!sql.includes(flow.token.json.refresh_token), 'refresh tokens are stored (and exported) only as hashes');

  // Restore: the export into a new, empty database (what you would do with `--remote` and a
  // new D1 database whose id goes into gatehouse.config.json).
  const restored = join(dirname(h.configPath), 'restored-state');
  await wrangler(['d1', 'execute', 'DB', '--local', '--persist-to', restored, '--file', file, '--yes']);
  const pending = await wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', restored]);
  assert.match(pending, /No migrations to apply/);
  await h.restart({ persist: restored });
  assert.deepEqual(await snapshot(), before, 'every table has the same rows');

  // The client that connected before the backup keeps working on the restored database.
  const again = await refresh(h, flow.client.client_id, flow.token.json.refresh_token);
  assert.equal(again.status, 200, again.text);
  const mcp = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${again.json.access_token}` });
  assert.equal(mcp.status, 200);
});
