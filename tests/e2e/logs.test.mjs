// `npm run logs`: what the real worker logs (requests, audit events, the cleanup cron, a
// configuration error), in tail events shaped as `wrangler tail --format json` delivers them,
// played back by the stubbed wrangler, comes out one readable line each, and never with a
// request's query string.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, startHarness } from './harness.mjs';
import { initializeBody, manualFlow, mcpPost } from './oauth.mjs';

const STUB = join(ROOT, 'tests/e2e/fixtures/wrangler');
let h;
let dir;
before(async () => {
  h = await startHarness({ name: 'logs', logLevel: 'log', testScheduled: true });
  dir = join(ROOT, 'tests/e2e/.tmp', `logs-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, 'wrangler.toml'), join(dir, 'wrangler.toml'));
  symlinkSync(join(ROOT, 'migrations'), join(dir, 'migrations'));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'));
});
after(async () => {
  await h?.stop();
  if (dir && !process.env.GATEHOUSE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
});

/**
 * The JSON lines the worker printed since `from` (wrangler dev with --log-level log shows them;
 * console.error ones come as "✘ [ERROR] {…}", with colours).
 */
function workerLines(from) {
  return readFileSync(h.logFile, 'utf8').slice(from).split('\n').flatMap((l) => {
    const plain = l.replace(/\u001b\[[0-9;]*m/g, '');
    const json = plain.slice(plain.indexOf('{'), plain.lastIndexOf('}') + 1);
    try {
      return json && typeof JSON.parse(json) === 'object' ? [json] : [];
    } catch {
      return [];
    }
  });
}

/**
 * A tail event around logged lines, in the shape wrangler receives from the tail worker
 * (TailEventMessage: outcome, exceptions, logs, eventTimestamp, event), as in workers-sdk's
 * packages/wrangler/src/__tests__/tail.test.ts, generateMockEventMessage and
 * generateMockRequestEvent (https://github.com/cloudflare/workers-sdk, read 2026-12-02); `status`
 * adds the response, as workers-types declares it (TraceItemFetchEventInfo.response:
 * TraceItemFetchEventInfoResponse { status }, cloudflare/workerd types, read 2026-12-04).
 */
function tailEvent(lines, { url, method = 'GET', level = 'log', outcome = 'ok', exceptions = [], cron, status } = {}) {
  const now = Date.now();
  return {
    outcome,
    exceptions,
    logs: lines.map((l) => ({ message: [l], level, timestamp: now })),
    eventTimestamp: now,
    event: cron !== undefined
      ? { cron, scheduledTime: now }
      : {
        request: { url, method, headers: { 'x-example-header': 'some_value' }, cf: { colo: 'ATL', httpProtocol: 'HTTP/2' } },
        ...(status === undefined ? {} : { response: { status } }),
      },
  };
}

function logs(args, events) {
  const tail = join(dir, 'tail.json');
  writeFileSync(tail, JSON.stringify(events));
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/logs.mjs'), '--config', join(dir, 'wrangler.toml'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, GATEHOUSE_WRANGLER: STUB, WRANGLER_STUB_STATE: join(dir, 'state.json'), WRANGLER_STUB_LOG: join(dir, 'calls.jsonl'), WRANGLER_STUB_TAIL: tail },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test('requests, audit events, the cron and a configuration error come out one readable line each', async () => {
  let from = readFileSync(h.logFile, 'utf8').length;
  // A token that is not one (a request without any has no line: the next test).
  assert.equal((await fetch(h.mcpUrl, { headers: { authorization: 'Bearer not-a-token' } })).status, 401);
  const reg = await fetch(`${h.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Logs test', redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' }),
  });
  assert.equal(reg.status, 201);
  const clientId = (await reg.json()).client_id;
  assert.equal((await h.runCron()).status, 200);
  await new Promise((r) => setTimeout(r, 500)); // wrangler writes the worker's lines asynchronously
  const lines = workerLines(from);
  const request = lines.find((l) => JSON.parse(l).route === 'mcp');
  const registered = lines.find((l) => JSON.parse(l).route === 'register');
  const audit = lines.find((l) => JSON.parse(l).audit === 'client.register');
  const cleanup = lines.find((l) => JSON.parse(l).event === 'cleanup');
  assert.ok(request && registered && audit && cleanup, `the worker's lines:\n${lines.join('\n')}`);

  // A real configuration error: the worker restarted with SCOPES empty.
  await h.restart({ vars: { SCOPES: ' ' } });
  from = readFileSync(h.logFile, 'utf8').length;
  assert.equal((await fetch(`${h.base}/.well-known/oauth-authorization-server`)).status, 503);
  await new Promise((r) => setTimeout(r, 500));
  const configError = workerLines(from).find((l) => JSON.parse(l).event === 'config_error');
  assert.ok(configError, readFileSync(h.logFile, 'utf8').slice(from));
  await h.restart({ vars: {} });

  const events = [
    tailEvent([request], { url: `${h.base}/mcp?session=abc` }),
    tailEvent([registered, audit], { url: `${h.base}/register`, method: 'POST' }),
    tailEvent([cleanup], { cron: '17 * * * *' }),
    tailEvent([configError], { url: `${h.base}/authorize?client_id=x&code_challenge=SECRETCHALLENGE`, level: 'error' }),
    tailEvent([], { url: `${h.base}/token?code=SECRETCODE`, method: 'POST', outcome: 'exception', exceptions: [{ name: 'Error', message: 'boom', timestamp: Date.now() }] }),
  ];
  const r = logs([], events);
  assert.equal(r.status, 0, r.err);
  const out = r.out.split('\n').filter(Boolean);
  assert.ok(out.every((l) => /^\d\d:\d\d:\d\d  /.test(l)), r.out);
  assert.ok(out.some((l) => /GET\s+mcp\s+401\s+\d+ ms$/.test(l)), r.out);
  assert.ok(out.some((l) => new RegExp(`POST\\s+register\\s+201\\s+\\d+ ms  client ${clientId}$`).test(l)), r.out);
  assert.ok(out.some((l) => /audit  client\.register  .*client_id=/.test(l) && l.includes('Logs test')), r.out);
  assert.ok(out.some((l) => /cleanup \(cron 17 \* \* \* \*\): removed /.test(l)), r.out);
  assert.ok(out.some((l) => /ERROR  configuration: SCOPES must list at least one scope.*npm run deploy/.test(l)), r.out);
  assert.ok(out.some((l) => /!! POST \/token: outcome exception$/.test(l)), r.out);
  assert.ok(out.some((l) => /!! Error: boom$/.test(l)), r.out);
  assert.equal(out.length, 7, r.out);
  for (const secret of ['SECRETCODE', 'SECRETCHALLENGE', 'session=abc']) assert.ok(!r.out.includes(secret), `${secret} must not be printed`);

  // wrangler tail ran with JSON output and the filters given.
  const f = logs(['--status', 'error'], events);
  assert.equal(f.status, 0, f.err);
  const calls = readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).argv);
  assert.deepEqual(calls.at(-1).slice(0, 5), ['tail', '--format', 'json', '--status', 'error']);
  assert.equal(calls.at(-1)[calls.at(-1).indexOf('--config') + 1], join(dir, '.gatehouse/wrangler.json'));

  // --raw: the events themselves, one JSON per line.
  const raw = logs(['--raw'], events);
  assert.deepEqual(raw.out.trim().split('\n').map((l) => JSON.parse(l)), events);
});

test('a forwarded MCP call the origin answered, and the challenge to a request without a token, write no line unless LOG_MCP_SUCCESSES=on; the tail still shows them', async () => {
  const flow = await manualFlow(h);
  const auth = { authorization: `Bearer ${flow.token.json.access_token}` };
  const mcpLines = (from) => workerLines(from).map((l) => JSON.parse(l)).filter((l) => l.route === 'mcp');

  let from = readFileSync(h.logFile, 'utf8').length;
  assert.equal((await mcpPost(h.mcpUrl, initializeBody(), auth)).status, 200);
  // Twice each: the first of a kind in an isolate may take the usual path, a later one the hot path (edge/hot.rs).
  for (let i = 0; i < 2; i++) {
    assert.equal((await mcpPost(h.mcpUrl, initializeBody())).status, 401);
    assert.equal((await mcpPost(h.mcpUrl, initializeBody(), { authorization: 'Basic Z2g6eA==' })).status, 401);
    assert.equal((await mcpPost(h.mcpUrl, initializeBody(), { authorization: `${auth.authorization}x` })).status, 401);
  }
  await new Promise((r) => setTimeout(r, 500));
  // The refusals of a request that carried an Authorization header have their line; the bare challenge has none.
  assert.deepEqual(mcpLines(from).map((l) => l.status), [401, 401, 401, 401], 'only refusals of a presented credential have a line by default');

  // What the operator still sees of the call: the invocation itself, from the tail.
  const r = logs([], [200, 401].map((status) => tailEvent([], { url: `${h.base}/mcp`, method: 'POST', status })));
  assert.equal(r.status, 0, r.err);
  assert.match(r.out.trim(), /^\d\d:\d\d:\d\d  POST \/mcp  200\n\d\d:\d\d:\d\d  POST \/mcp  401$/);

  await h.restart({ vars: { LOG_MCP_SUCCESSES: 'on' } });
  try {
    from = readFileSync(h.logFile, 'utf8').length;
    assert.equal((await mcpPost(h.mcpUrl, initializeBody(), auth)).status, 200);
    assert.equal((await mcpPost(h.mcpUrl, initializeBody())).status, 401);
    await new Promise((r) => setTimeout(r, 500));
    const lines = mcpLines(from);
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.equal(lines[0].status, 200);
    assert.equal(lines[0].client_id, flow.client.client_id);
    assert.deepEqual([lines[1].status, lines[1].client_id], [401, null]);
  } finally {
    await h.restart({ vars: {} });
  }
});
