// MCP 2026-07-28 through Gatehouse in workerd: the official TypeScript SDK v2
// (@modelcontextprotocol/client 2.4.x) as the client and (tests/e2e/fixtures/origin-v2.mjs, the SDK's
// strict modern endpoint) as the origin, with a 2025-11-25 client of the SDK 1.x on the same
// Gatehouse at the same time. First without a tool policy (the plain path: the body is streamed to
// the origin unread), then with one (every body is read strictly and checked against its SEP-2243
// headers): the real SDKs' traffic must pass both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Transport1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHarness } from './harness.mjs';
import { approveAsOwner } from './owner.mjs';
import { manualFlow } from './oauth.mjs';
import { sdkProvider } from './sdk_client.mjs';

const TIMEOUT_SECONDS = 2; // ORIGIN_TIMEOUT_SECONDS: the wait for the origin's response headers only
const REDIRECT_URL = 'http://127.0.0.1:47328/callback';
const MODERN = '2026-07-28';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const textOf = (result) => result.content.find((c) => c.type === 'text')?.text;

let h;
let provider; // the v2 client's OAuth provider (DCR client, tokens)
let authorizations = 0;
let v2; // a connected v2 client
let legacy; // { client, transport } of the 1.x client

function newV2() {
  return new ClientV2({ name: 'gatehouse-e2e-v2', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
}
const v2Transport = () => new TransportV2(new URL(h.mcpUrl), { authProvider: provider });
/** The requests the origin received since `from`, for the JSON-RPC method `m`. */
const seenFor = async (m, from = 0) => (await h.seen()).slice(from).filter((r) => r.headers['mcp-method'] === m || r.body.includes(`"method":"${m}"`));

before(async () => {
  h = await startHarness({ name: 'mcp-2026', origin: 'v2', vars: { ORIGIN_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) } });
});
after(async () => {
  await fetch(`${h?.originBase}/__release`, { method: 'POST' }).catch(() => {});
  await v2?.close().catch(() => {});
  await legacy?.client.close().catch(() => {});
  await h?.stop();
});

test('v2 client: discovery, registration, OAuth with iss, then server/discover reaches the strict origin with its headers', async () => {
  provider = Object.assign(sdkProvider({
    redirectUrl: REDIRECT_URL,
    clientName: 'gatehouse e2e (SDK v2)',
    walk: (url) => {
      authorizations++;
      assert.equal(new URL(url).searchParams.get('resource'), h.mcpUrl, 'the resource from the protected resource metadata');
      return approveAsOwner(url, { base: h.base, password: h.password });
    },
  }), {
    // SEP-2352: the v2 SDK binds the callback to the authorization server it discovered.
    saveDiscoveryState(state) { this.discovery = state; },
    discoveryState() { return this.discovery; },
  });
  await assert.rejects(newV2().connect(v2Transport()), /Unauthorized/);
  assert.equal(authorizations, 1);
  assert.ok(provider.client?.client_id, 'the SDK registered a client');
  const cb = provider.callback;
  assert.equal(cb.searchParams.get('state'), provider.lastState);
  assert.equal(cb.searchParams.get('iss'), h.base, 'RFC 9207 iss, which the v2 SDK checks');
  const transport = v2Transport();
  await transport.finishAuth(cb.searchParams); // the whole callback: the SDK validates iss itself
  assert.ok(provider.tokens()?.access_token && provider.tokens().refresh_token);

  const from = (await h.seen()).length;
  v2 = newV2();
  await v2.connect(transport);
  assert.equal(v2.getProtocolEra(), 'modern');
  assert.equal(v2.getNegotiatedProtocolVersion(), MODERN);
  const discovered = v2.getDiscoverResult();
  assert.ok(discovered.supportedVersions.includes(MODERN), JSON.stringify(discovered));
  assert.equal(v2.getServerVersion().name, 'gatehouse-e2e-origin-v2');

  const [probe] = await seenFor('server/discover', from);
  assert.ok(probe, 'server/discover reached the origin');
  assert.equal(probe.headers['mcp-method'], 'server/discover');
  assert.equal(probe.headers['mcp-protocol-version'], MODERN);
  assert.equal(probe.headers['mcp-session-id'], undefined, 'no session');
  assert.equal(probe.headers.authorization, undefined, 'the token stays at the gateway');
  assert.ok(probe.headers['x-gatehouse-user']);
});

test('v2 client: tools/list and tools/call; an x-mcp-header parameter reaches the origin as Mcp-Param-Region, plain and =?base64?…?=', async () => {
  const { tools } = await v2.listTools();
  const locate = tools.find((t) => t.name === 'locate');
  assert.equal(locate?.inputSchema.properties.region['x-mcp-header'], 'Region', 'the annotation reaches the client');
  assert.ok(tools.some((t) => t.name === 'delete_everything'), 'no policy yet: every tool listed');

  const from = (await h.seen()).length;
  const plain = JSON.parse(textOf(await v2.callTool({ name: 'locate', arguments: { region: 'us-west1' } })));
  assert.deepEqual(plain, { region: 'us-west1', header: 'us-west1' });
  const region = 'Zürich '; // non-ASCII and a trailing space: Base64 sentinel form
  const encoded = JSON.parse(textOf(await v2.callTool({ name: 'locate', arguments: { region } })));
  assert.deepEqual(encoded, { region, header: `=?base64?${Buffer.from(region).toString('base64')}?=` });
  const calls = await seenFor('tools/call', from);
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.equal(c.headers['mcp-method'], 'tools/call');
    assert.equal(c.headers['mcp-name'], 'locate');
    assert.ok(c.headers['mcp-param-region']);
  }
  assert.equal(textOf(await v2.callTool({ name: 'echo', arguments: { text: 'modern ✓' } })), 'modern ✓');
});

test('v2 client: progress notifications stream through before the tool finishes', async () => {
  const progress = [];
  let releasing;
  const result = await v2.callTool({ name: 'countdown', arguments: { steps: 3 } }, {
    timeout: 20_000,
    onprogress: async (p) => {
      progress.push(p.progress);
      if (p.progress === 1) releasing = fetch(`${h.originBase}/__release`, { method: 'POST' }).then((r) => r.status);
    },
  });
  assert.deepEqual(JSON.parse(textOf(result)), { released: true }, 'released by the client after the first event: nothing was buffered');
  assert.equal(await releasing, 200);
  assert.deepEqual(progress, [1, 2, 3]);
});

/** Reads SSE messages from `reader` until one satisfies `want`. */
async function nextMessage(reader, state, want) {
  const dec = new TextDecoder();
  for (;;) {
    const events = state.buf.split(/\r?\n\r?\n/);
    state.buf = events.pop();
    for (const ev of events) {
      const data = ev.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (!data) continue;
      const msg = JSON.parse(data);
      if (want(msg)) return msg;
    }
    const { value, done } = await reader.read();
    assert.ok(!done, `the stream ended early: ${state.buf}`);
    state.buf += dec.decode(value, { stream: true });
  }
}

/** A subscriptions/listen POST for tools/list_changed, as the spec's example has it. */
function listen(id) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'subscriptions/listen',
    params: {
      _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} },
      notifications: { toolsListChanged: true },
    },
  };
}

async function openListen(id) {
  const ac = new AbortController();
  const res = await fetch(h.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${provider.tokens().access_token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': 'subscriptions/listen',
    },
    body: JSON.stringify(listen(id)),
    signal: ac.signal,
  });
  return { res, ac, reader: res.body?.getReader(), state: { buf: '' } };
}

test('subscriptions/listen: the POST\'s SSE answer stays open past ORIGIN_TIMEOUT_SECONDS and carries tools/list_changed', async () => {
  const s = await openListen('listen-1');
  try {
    assert.equal(s.res.status, 200);
    assert.match(s.res.headers.get('content-type'), /^text\/event-stream/);
    const ack = await nextMessage(s.reader, s.state, (m) => m.method === 'notifications/subscriptions/acknowledged');
    assert.equal(ack.params._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
    await sleep((TIMEOUT_SECONDS * 2 + 1) * 1000); // well past the header timeout
    assert.equal((await fetch(`${h.originBase}/__notify`, { method: 'POST' })).status, 200);
    const changed = await nextMessage(s.reader, s.state, (m) => m.method === 'notifications/tools/list_changed');
    assert.equal(changed.params._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
  } finally {
    s.ac.abort();
  }
});

test('a 2025-11-25 client of the SDK 1.x works beside the v2 client at the same time, with its session bound', async () => {
  const f = await manualFlow(h);
  assert.equal(f.token.status, 200, f.token.text);
  const transport = new Transport1(new URL(h.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${f.token.json.access_token}` } } });
  const client = new Client1({ name: 'gatehouse-e2e-sdk1', version: '1.0.0' });
  await client.connect(transport);
  legacy = { client, transport };
  assert.equal(transport.protocolVersion, '2025-11-25', 'negotiated the 2025-11-25 revision');
  const sid = transport.sessionId;
  assert.ok(sid, 'a session');

  // The v2 client's countdown waits at the origin while the 1.x client does its work.
  const progress = [];
  const modernCall = v2.callTool({ name: 'countdown', arguments: { steps: 2 } }, { timeout: 20_000, onprogress: (p) => progress.push(p.progress) });
  while (progress.length === 0) await sleep(50);
  const [echoed, listed, modernList] = await Promise.all([
    client.callTool({ name: 'echo', arguments: { text: 'legacy ✓' } }),
    client.listTools(),
    v2.listTools(undefined, { cacheMode: 'refresh' }),
  ]);
  assert.equal(textOf(echoed), 'legacy ✓');
  assert.ok(listed.tools.some((t) => t.name === 'locate'));
  assert.ok(modernList.tools.some((t) => t.name === 'locate'));
  await fetch(`${h.originBase}/__release`, { method: 'POST' });
  assert.deepEqual(JSON.parse(textOf(await modernCall)), { released: true });

  const seen = await h.seen();
  const originSid = Buffer.from(sid.split('.')[0], 'base64url').toString('utf8');
  assert.notEqual(originSid, sid, 'the client holds the grant-bound wrapping, not the origin\'s id');
  const legacyRequests = seen.filter((r) => r.headers['mcp-session-id'] === originSid);
  assert.ok(legacyRequests.length >= 3, 'the 1.x client\'s requests carried the origin\'s session id');
  const modernRequests = seen.filter((r) => r.headers['mcp-protocol-version'] === MODERN);
  assert.ok(modernRequests.length >= 5);
  assert.ok(modernRequests.every((r) => r.headers['mcp-session-id'] === undefined), 'no 2026-07-28 request carries a session id');
});

test('v2 client: an invalid access token is refreshed (refresh grant, no new authorization) and the call goes through', async () => {
  const before = provider.tokens();
  await v2.close();
  provider.saveTokens({ ...before, access_token: `${before.access_token.slice(0, -8)}AAAAAAAA` });
  v2 = newV2();
  await v2.connect(v2Transport());
  const now = provider.tokens();
  assert.notEqual(now.access_token, before.access_token);
  assert.notEqual(now.refresh_token, before.refresh_token, 'rotated');
  assert.equal(authorizations, 1, 'refreshed, not re-authorized');
  assert.equal(v2.getProtocolEra(), 'modern');
  assert.equal(textOf(await v2.callTool({ name: 'echo', arguments: { text: 'after refresh' } })), 'after refresh');
});

// ---- the same clients with a tool policy: every body is read and checked -------------------

test('with TOOL_POLICY: the v2 list is filtered and private, denied calls are refused, allowed ones (with Mcp-Param-*) pass the strict reader', async () => {
  h.vars.TOOL_POLICY = JSON.stringify({ default: { deny: ['delete_*'] } });
  await h.restart();
  await v2.close();
  v2 = newV2(); // a fresh response cache
  await v2.connect(v2Transport());
  assert.equal(v2.getProtocolEra(), 'modern', 'server/discover passed the strict reader');

  const listed = await v2.listTools();
  assert.ok(!listed.tools.some((t) => t.name === 'delete_everything'), 'filtered');
  assert.ok(listed.tools.some((t) => t.name === 'locate'));
  assert.equal(listed.cacheScope, 'private', 'a per-client list is private (the origin said public)');
  assert.equal(listed.ttlMs, 60_000, 'the origin\'s TTL is kept');

  const from = (await h.seen()).length;
  await assert.rejects(v2.callTool({ name: 'delete_everything', arguments: {} }), (e) => e.code === -32602 && /not allowed/.test(e.message));
  assert.equal((await h.seen()).length, from, 'the refused call never reached the origin');
  const located = JSON.parse(textOf(await v2.callTool({ name: 'locate', arguments: { region: 'Zürich ' } })));
  assert.equal(located.header, `=?base64?${Buffer.from('Zürich ').toString('base64')}?=`);
});

test('with TOOL_POLICY: the 1.x client\'s session survives the restart; its list is filtered without 2026 fields, its denied call refused', async () => {
  const listed = await legacy.client.listTools();
  assert.ok(!listed.tools.some((t) => t.name === 'delete_everything'));
  assert.equal(listed.cacheScope, undefined, 'no 2026-07-28 field in a 2025-11-25 result');
  const refused = await legacy.client.callTool({ name: 'delete_everything', arguments: {} }).then((r) => r, (e) => e);
  assert.match(String(refused.message ?? JSON.stringify(refused)), /not allowed/);
  assert.equal(textOf(await legacy.client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
});

test('with TOOL_POLICY: subscriptions/listen still streams past the header timeout', async () => {
  const s = await openListen('listen-2');
  try {
    assert.equal(s.res.status, 200);
    await nextMessage(s.reader, s.state, (m) => m.method === 'notifications/subscriptions/acknowledged');
    await sleep((TIMEOUT_SECONDS + 1) * 1000);
    await fetch(`${h.originBase}/__notify`, { method: 'POST' });
    await nextMessage(s.reader, s.state, (m) => m.method === 'notifications/tools/list_changed');
  } finally {
    s.ac.abort();
  }
});
