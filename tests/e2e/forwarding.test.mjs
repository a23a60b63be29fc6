// Forwarding to the origin (MCP Streamable HTTP) through Gatehouse in workerd: every answer the
// transport uses passes through as the origin gave it (oracle: the same request sent straight to
// the demo origin), session ids are bound to the grant, the origin gets its credentials and a
// verifiable identity assertion, headers are cleaned, limits hold, and the tool policy applies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startHarness } from './harness.mjs';
import { manualFlow, initializeBody, mcpPost, postChunked } from './oauth.mjs';

const TIMEOUT_SECONDS = 2; // ORIGIN_TIMEOUT_SECONDS for this worker
const MAX_BODY = 4096; // ORIGIN_MAX_BODY_BYTES for this worker
const SHARED_SECRET = `shared-${randomBytes(16).toString('hex')}`;
const ACCESS_ID = 'e2e-service-token.access';
const ACCESS_SECRET = `access-${randomBytes(16).toString('hex')}`;
const PROTOCOL = { 'mcp-protocol-version': '2025-06-18' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let h;
let A; // { token, clientId } of one grant
let B; // ... of another grant (another client)

async function grant(harness) {
  const f = await manualFlow(harness);
  assert.equal(f.token.status, 200, f.token.text);
  return { token: f.token.json.access_token, clientId: f.client.client_id };
}
const auth = (g) => ({ authorization: `Bearer ${g.token}` });

/** The JSON-RPC messages of an answer, JSON or SSE. */
function messages(r) {
  if (!(r.headers.get('content-type') ?? '').startsWith('text/event-stream')) return [r.json];
  return r.text
    .split(/\r?\n\r?\n/)
    .map((ev) => ev.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter(Boolean)
    .map((d) => JSON.parse(d));
}

/** initialize + notifications/initialized; `json` asks the demo origin for JSON answers. */
async function openSession(url, headers = {}, { json = false } = {}) {
  const body = initializeBody();
  if (json) body.params.clientInfo.name = 'gatehouse-e2e json-response';
  const init = await mcpPost(url, body, headers);
  assert.equal(init.status, 200, init.text);
  const sid = init.headers.get('mcp-session-id');
  assert.ok(sid, 'initialize returns a session id');
  const s = { sid, headers: { ...headers, ...PROTOCOL, 'mcp-session-id': sid }, init };
  s.initialized = await mcpPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, s.headers);
  s.post = (msg, extra = {}) => mcpPost(url, msg, { ...s.headers, ...extra });
  return s;
}
const call = (id, name, args = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
const toolNames = (r) => messages(r).find((m) => m.id !== undefined).result.tools.map((t) => t.name).sort();

before(async () => {
  h = await startHarness({
    name: 'forwarding',
    vars: {
      ORIGIN_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
      ORIGIN_MAX_BODY_BYTES: String(MAX_BODY),
      TOOL_POLICY: JSON.stringify({ default: { deny: ['add'] } }),
    },
    secrets: {
      ORIGIN_SHARED_SECRET: SHARED_SECRET,
      ORIGIN_ACCESS_CLIENT_ID: ACCESS_ID,
      ORIGIN_ACCESS_CLIENT_SECRET: ACCESS_SECRET,
    },
  });
  A = await grant(h);
  B = await grant(h);
});
after(async () => {
  await fetch(`${h?.originBase}/__release`, { method: 'POST' }).catch(() => {});
  await h?.stop();
});

test('POST answered as SSE: the stream passes through as the origin sends it', async () => {
  const viaGateway = await openSession(h.mcpUrl, auth(A));
  const direct = await openSession(h.originMcpUrl);
  const g = await viaGateway.post(call(2, 'echo', { text: 'sse ✓' }));
  const d = await direct.post(call(2, 'echo', { text: 'sse ✓' }));
  assert.equal(g.status, 200, g.text);
  assert.match(g.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(g.headers.get('content-type'), d.headers.get('content-type'));
  assert.deepEqual(messages(g), messages(d));
  assert.equal(messages(g)[0].result.content[0].text, 'sse ✓');
});

test('POST answered as JSON: status, type and body as from the origin', async () => {
  const viaGateway = await openSession(h.mcpUrl, auth(A), { json: true });
  const direct = await openSession(h.originMcpUrl, {}, { json: true });
  const g = await viaGateway.post(call(3, 'echo', { text: 'json ✓' }));
  const d = await direct.post(call(3, 'echo', { text: 'json ✓' }));
  assert.equal(g.status, 200, g.text);
  assert.match(g.headers.get('content-type'), /^application\/json/);
  assert.equal(g.headers.get('content-type'), d.headers.get('content-type'));
  assert.deepEqual(g.json, d.json);
  assert.equal(g.json.result.content[0].text, 'json ✓');
});

test('202 for a notification passes through unchanged', async () => {
  const viaGateway = await openSession(h.mcpUrl, auth(A));
  const direct = await openSession(h.originMcpUrl);
  assert.equal(direct.initialized.status, 202);
  assert.equal(viaGateway.initialized.status, 202);
  assert.equal(viaGateway.initialized.text, direct.initialized.text);
});

test('400 from the origin passes through unchanged (the Python SDK falls back on it)', async () => {
  const probe = { jsonrpc: '2.0', id: 1, method: 'tools/list' }; // no session, not initialize
  const g = await mcpPost(h.mcpUrl, probe, { ...auth(A), ...PROTOCOL });
  const d = await mcpPost(h.originMcpUrl, probe, PROTOCOL);
  assert.equal(d.status, 400);
  assert.equal(g.status, 400, g.text);
  assert.equal(g.text, d.text);
  assert.equal(g.headers.get('content-type'), d.headers.get('content-type'));
});

test('the standalone GET stream stays open past the origin timeout and carries server notifications', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  const ac = new AbortController();
  const limit = setTimeout(() => ac.abort(), 20_000);
  try {
    const res = await fetch(h.mcpUrl, { headers: { ...s.headers, accept: 'text/event-stream' }, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    // Longer than ORIGIN_TIMEOUT_SECONDS: that limit is for response headers only.
    await sleep((TIMEOUT_SECONDS + 1) * 1000);
    const sent = await s.post(call(5, 'broadcast', { text: 'to-the-standalone-stream' }));
    assert.equal(messages(sent).at(-1).result.content[0].text, 'sent');
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('to-the-standalone-stream')) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended early: ${text}`);
      text += dec.decode(value, { stream: true });
    }
    assert.match(text, /notifications\/message/);
  } finally {
    clearTimeout(limit);
    ac.abort();
  }
});

test('DELETE ends the session; afterwards the origin answers 404 and that passes through', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  const direct = await openSession(h.originMcpUrl);
  const del = (url, headers) => fetch(url, { method: 'DELETE', headers, signal: AbortSignal.timeout(10_000) });
  const g = await del(h.mcpUrl, s.headers);
  const d = await del(h.originMcpUrl, direct.headers);
  assert.equal(g.status, d.status);
  assert.equal(g.status, 200);
  assert.equal(await g.text(), await d.text());
  const after = await s.post(call(6, 'echo', { text: 'gone?' }));
  assert.equal(after.status, 404, after.text);
  assert.equal(after.json.error.code, -32001);
});

test('a session id minted for grant A is refused with grant B\'s token, and the origin never sees it', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  const before = (await h.seen()).length;
  const stolen = await mcpPost(h.mcpUrl, call(7, 'echo', { text: 'x' }), { ...auth(B), ...PROTOCOL, 'mcp-session-id': s.sid });
  assert.equal(stolen.status, 404, stolen.text);
  assert.equal(stolen.json.jsonrpc, '2.0');
  assert.equal(stolen.json.error.code, -32001);
  assert.equal((await h.seen()).length, before, 'nothing reached the origin');
  const own = await s.post(call(8, 'echo', { text: 'mine' }));
  assert.equal(own.status, 200, 'the owner of the session still uses it');
});

test('the client never sees the origin\'s session id, and a bare origin id is refused', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  const seen = await h.seen();
  const originId = seen.at(-1).headers['mcp-session-id']; // notifications/initialized carried it
  assert.ok(originId, 'the origin received its own session id');
  assert.notEqual(s.sid, originId);
  assert.ok(!s.sid.includes(originId));
  const r = await mcpPost(h.mcpUrl, call(9, 'echo', { text: 'x' }), { ...auth(A), ...PROTOCOL, 'mcp-session-id': originId });
  assert.equal(r.status, 404, r.text);
  assert.equal((await h.seen()).length, seen.length, 'nothing reached the origin');
});

test('the origin receives identity headers and an assertion that verifies (jose) against the JWKS', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  await s.post(call(10, 'echo', { text: 'who' }));
  const got = (await h.seen()).at(-1).headers;
  assert.equal(got['x-gatehouse-client'], A.clientId);
  assert.ok(got['x-gatehouse-user']);
  assert.equal(got['x-gatehouse-scope'], 'mcp');
  const jwks = createRemoteJWKSet(new URL(`${h.base}/.well-known/jwks.json`));
  const audience = new URL(h.originBase).origin;
  const { payload, protectedHeader } = await jwtVerify(got['x-gatehouse-assertion'], jwks, {
    issuer: h.base,
    audience,
    algorithms: ['EdDSA'],
    typ: 'gatehouse-assertion+jwt',
  });
  assert.equal(payload.sub, got['x-gatehouse-user']);
  assert.equal(payload.client_id, A.clientId);
  assert.equal(payload.scope, 'mcp');
  assert.equal(payload.exp - payload.iat, 60);
  assert.ok(payload.jti);
  assert.ok(protectedHeader.kid);
  await assert.rejects(jwtVerify(got['x-gatehouse-assertion'], jwks, { issuer: h.base, audience: 'https://elsewhere.example' }));
});

test('the origin receives the Access service token and the shared secret; client-sent copies never pass', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  await s.post(call(11, 'echo', { text: 'creds' }), {
    'cf-access-client-id': 'forged-id',
    'cf-access-client-secret': 'forged-secret',
    'x-gatehouse-secret': 'forged-shared',
    'x-gatehouse-user': 'forged-user',
    'x-gatehouse-assertion': 'forged.assertion.x',
    cookie: 'session=from-the-client',
    'x-forwarded-for': '198.51.100.66',
    'cf-connecting-ip': '203.0.113.9',
  });
  const got = (await h.seen()).at(-1).headers;
  assert.equal(got['cf-access-client-id'], ACCESS_ID);
  assert.equal(got['cf-access-client-secret'], ACCESS_SECRET);
  assert.equal(got['x-gatehouse-secret'], SHARED_SECRET);
  assert.notEqual(got['x-gatehouse-user'], 'forged-user');
  assert.notEqual(got['x-gatehouse-assertion'], 'forged.assertion.x');
  assert.equal(got.cookie, undefined);
  assert.equal(got.authorization, undefined);
  assert.equal(got['cf-connecting-ip'], undefined);
  assert.ok(!String(got['x-forwarded-for'] ?? '').includes('198.51.100.66'), `x-forwarded-for: ${got['x-forwarded-for']}`);
});

test('X-Forwarded-For is the connecting IP as the runtime reports it (CF-Connecting-IP)', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  await s.post(call(12, 'echo', { text: 'ip' }));
  const got = (await h.seen()).at(-1).headers;
  assert.match(String(got['x-forwarded-for']), /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
});

test('hop-by-hop headers from the origin are dropped, including those named in Connection, and its cookies', async () => {
  // (Request side: workerd hands the worker no Connection, Keep-Alive or TE header at all, so
  // the request half of this rule is covered by the native tests in src/gateway/headers.rs.)
  const s = await openSession(h.mcpUrl, auth(A));
  // Response side: the origin names a header in Connection and sets a cookie.
  await fetch(`${h.originBase}/__next`, {
    method: 'POST',
    body: JSON.stringify({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ jsonrpc: '2.0', id: 14, result: {} }),
      headers: { connection: 'x-hop-secret', 'x-hop-secret': 'leak', 'x-kept': 'yes', 'set-cookie': 'origin=1' },
    }),
  });
  const r = await s.post(call(14, 'echo', { text: 'x' }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-kept'), 'yes');
  assert.equal(r.headers.get('x-hop-secret'), null);
  assert.equal(r.headers.get('set-cookie'), null);
});

test('an origin 204 (a null-body status) passes through as 204 without a body', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  await fetch(`${h.originBase}/__next`, { method: 'POST', body: JSON.stringify({ status: 204 }) });
  const r = await s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
  assert.equal(r.status, 204, r.text);
  assert.equal(r.text, '');
});

test('a body over ORIGIN_MAX_BODY_BYTES is refused with 413, by Content-Length and while streaming', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  const before = (await h.seen()).length;
  const big = JSON.stringify(call(15, 'echo', { text: 'x'.repeat(MAX_BODY) }));
  const declared = await s.post(JSON.parse(big));
  assert.equal(declared.status, 413, declared.text);
  assert.equal(declared.json.jsonrpc, '2.0');
  assert.match(declared.json.error.message, /too large/);

  const bytes = new TextEncoder().encode(big);
  const chunked = await postChunked(h.mcpUrl, s.headers, bytes);
  assert.equal(chunked.status, 413, await chunked.clone().text());
  assert.equal((await chunked.json()).error.code, -32000);
  assert.equal((await h.seen()).length, before, 'nothing reached the origin');

  const fits = await s.post(call(16, 'echo', { text: 'y'.repeat(MAX_BODY - 300) }));
  assert.equal(fits.status, 200, 'a body under the limit is forwarded');
});

test('an origin that sends no response headers in time gives 504 in JSON-RPC shape', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  await fetch(`${h.originBase}/__next`, { method: 'POST', body: JSON.stringify({ stall: true }) });
  try {
    const r = await s.post(call(17, 'echo', { text: 'slow' }));
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json.jsonrpc, '2.0');
    assert.match(r.json.error.message, new RegExp(`within ${TIMEOUT_SECONDS} seconds`));
  } finally {
    await fetch(`${h.originBase}/__release`, { method: 'POST' });
  }
});

test('origin HTTP failures become 502 in JSON-RPC shape without their details; an origin 401 is not passed on', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  await fetch(`${h.originBase}/__next`, {
    method: 'POST',
    body: JSON.stringify({ status: 530, contentType: 'text/html', body: '<html>tunnel internal-detail-xyz</html>' }),
  });
  const r = await s.post(call(18, 'echo', { text: 'x' }));
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.jsonrpc, '2.0');
  assert.match(r.json.error.message, /530/);
  assert.ok(!r.text.includes('internal-detail-xyz'));

  await fetch(`${h.originBase}/__next`, {
    method: 'POST',
    body: JSON.stringify({ status: 401, contentType: 'application/json', body: '{}', headers: { 'www-authenticate': 'Bearer realm="origin"' } }),
  });
  const denied = await s.post(call(19, 'echo', { text: 'x' }));
  assert.equal(denied.status, 502, denied.text);
  assert.equal(denied.headers.get('www-authenticate'), null);
  assert.match(denied.json.error.message, /credentials/);
});

test('tool policy: a denied tools/call is answered by the gateway and never reaches the origin', async () => {
  const s = await openSession(h.mcpUrl, auth(A));
  const before = (await h.seen()).length;
  const r = await s.post(call(20, 'add', { a: 1, b: 2 }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, 20);
  assert.equal(r.json.error.code, -32602);
  assert.match(r.json.error.message, /"add"/);
  assert.equal((await h.seen()).length, before, 'nothing reached the origin');
  const ok = await s.post(call(21, 'echo', { text: 'allowed' }));
  assert.equal(messages(ok)[0].result.content[0].text, 'allowed');
});

test('tool policy: tools/list is filtered in JSON and in SSE answers', async () => {
  const list = { jsonrpc: '2.0', id: 22, method: 'tools/list' };
  const direct = toolNames(await (await openSession(h.originMcpUrl)).post(list));
  assert.ok(direct.includes('add') && direct.includes('echo'), `origin lists ${direct}`);
  const expected = direct.filter((n) => n !== 'add');

  const sse = await (await openSession(h.mcpUrl, auth(A))).post(list);
  assert.match(sse.headers.get('content-type'), /^text\/event-stream/);
  assert.deepEqual(toolNames(sse), expected);

  const json = await (await openSession(h.mcpUrl, auth(A), { json: true })).post(list);
  assert.match(json.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(toolNames(json), expected);
});

test('tool policy per client: a client rule replaces the default', async () => {
  h.vars.TOOL_POLICY = JSON.stringify({ default: { deny: ['add'] }, clients: { [A.clientId]: { allow: ['echo'] } } });
  await h.restart();
  const list = { jsonrpc: '2.0', id: 23, method: 'tools/list' };
  const a = await openSession(h.mcpUrl, auth(A));
  assert.deepEqual(toolNames(await a.post(list)), ['echo']);
  const refused = await a.post(call(24, 'whoami'));
  assert.equal(refused.json.error.code, -32602);
  const b = toolNames(await (await openSession(h.mcpUrl, auth(B))).post(list));
  assert.ok(b.includes('whoami') && !b.includes('add'), `B sees ${b}`);
});

test('service binding ORIGIN: traffic goes through the bound worker', async () => {
  const h2 = await startHarness({
    name: 'forwarding-binding',
    vars: { ORIGIN_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) },
    extraConfigs: ['tests/e2e/fixtures/origin-relay/wrangler.json'],
    services: [{ binding: 'ORIGIN', service: 'origin-relay' }],
  });
  try {
    const g = await grant(h2);
    const s = await openSession(h2.mcpUrl, auth(g));
    const r = await s.post(call(1, 'echo', { text: 'via binding' }));
    assert.equal(messages(r)[0].result.content[0].text, 'via binding');
    const seen = await h2.seen();
    assert.ok(seen.length >= 3);
    for (const req of seen) assert.equal(req.headers['x-relayed-by'], 'origin-relay', 'every request took the binding');
    // With ORIGIN_URL set too, the binding is called with it (a VPC service takes the scheme
    // and path from it).
    assert.equal(seen.at(-1).headers['x-relayed-url'], h2.originMcpUrl);
    const aud = JSON.parse(Buffer.from(seen.at(-1).headers['x-gatehouse-assertion'].split('.')[1], 'base64url')).aud;
    assert.equal(aud, new URL(h2.originBase).origin, 'the assertion audience is still the origin of ORIGIN_URL');
    // The origin timeout aborts a fetch through a binding as it does a fetch by URL.
    await fetch(`${h2.originBase}/__next`, { method: 'POST', body: JSON.stringify({ stall: true }) });
    try {
      const slow = await s.post(call(2, 'echo', { text: 'slow via binding' }));
      assert.equal(slow.status, 504, slow.text);
      assert.match(slow.json.error.message, new RegExp(`within ${TIMEOUT_SECONDS} seconds`));
    } finally {
      await fetch(`${h2.originBase}/__release`, { method: 'POST' });
    }
  } finally {
    await h2.stop();
  }
});

test('a malformed forwarding setting is one clear error naming the variable, never its value', async () => {
  const h3 = await startHarness({ name: 'forwarding-badconfig', secrets: { ORIGIN_SHARED_SECRET: 'tooshort9' } });
  try {
    for (const r of [
      await fetch(`${h3.base}/.well-known/oauth-authorization-server`),
      await fetch(h3.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(initializeBody()) }),
    ]) {
      const text = await r.text();
      assert.equal(r.status, 503, text);
      assert.match(text, /ORIGIN_SHARED_SECRET/);
      assert.ok(!text.includes('tooshort9'), 'the value is not shown');
    }
  } finally {
    await h3.stop();
  }
});
