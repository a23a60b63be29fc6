// The official TypeScript MCP SDK client, with its OAuth client provider, against Gatehouse
// in workerd, forwarding to the demo MCP origin. The test plays the owner in the browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startHarness } from './harness.mjs';
import { approveAsOwner } from './owner.mjs';
import { decodeJwt, refresh } from './oauth.mjs';

const REDIRECT_URL = 'http://127.0.0.1:47321/callback'; // Claude Code style loopback callback
const CLIENT_COOKIE = 'client_session=sent-by-the-mcp-client';
// Gatehouse accepts a replaced refresh token for a short while (parallel refreshes); a short
// window here keeps the test quick.
const REFRESH_GRACE_SECONDS = 3;
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** In-memory OAuthClientProvider whose "browser" is the owner walker. */
class TestOAuthProvider {
  constructor(h) {
    this.h = h;
    this.authorizations = 0; // times the SDK sent the user to /authorize
    this.issuedAccessTokens = [];
  }
  get redirectUrl() {
    return REDIRECT_URL;
  }
  get clientMetadata() {
    return {
      client_name: 'gatehouse e2e (TypeScript SDK)',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.lastState = randomBytes(16).toString('base64url');
    return this.lastState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens) {
    this.savedTokens = tokens;
    this.issuedAccessTokens.push(tokens.access_token);
  }
  saveCodeVerifier(v) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'tokens') this.savedTokens = undefined;
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
  }
  async redirectToAuthorization(url) {
    this.authorizations++;
    this.authorizationUrl = new URL(url);
    const { location } = await approveAsOwner(url.href, { base: this.h.base, password: this.h.password });
    this.callback = new URL(location);
  }
}

function newTransport(h, provider) {
  // The client also sends a cookie of its own: the gateway must not pass it on.
  return new StreamableHTTPClientTransport(new URL(h.mcpUrl), {
    authProvider: provider,
    requestInit: { headers: { cookie: CLIENT_COOKIE } },
  });
}

async function connect(h, provider) {
  const client = new Client({ name: 'gatehouse-e2e-ts', version: '1.0.0' });
  const transport = newTransport(h, provider);
  await client.connect(transport);
  return { client, transport };
}

const textOf = (result) => result.content.find((c) => c.type === 'text')?.text;

let h;
let provider;
let session; // { client, transport } after the full flow

before(async () => {
  h = await startHarness({ name: 'ts-client', vars: { REFRESH_GRACE_SECONDS: String(REFRESH_GRACE_SECONDS) } });
});
after(async () => {
  await session?.client.close().catch(() => {});
  await h?.stop();
});

test('TS SDK: first connect discovers, registers and sends the owner to /authorize; callback carries code, state, iss', async () => {
  provider = new TestOAuthProvider(h);
  const client = new Client({ name: 'gatehouse-e2e-ts', version: '1.0.0' });
  const transport = newTransport(h, provider);
  await assert.rejects(client.connect(transport), UnauthorizedError);
  await client.close().catch(() => {});

  assert.equal(provider.authorizations, 1, 'the SDK redirected to the authorization endpoint once');
  assert.ok(provider.client?.client_id, 'the SDK registered a client (DCR)');
  const a = provider.authorizationUrl;
  assert.equal(`${a.origin}${a.pathname}`, `${h.base}/authorize`);
  assert.equal(a.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(a.searchParams.get('resource'), h.mcpUrl, 'resource indicator from the protected resource metadata');

  const cb = provider.callback;
  assert.equal(`${cb.origin}${cb.pathname}`, REDIRECT_URL, 'owner is sent back to the registered redirect URI');
  assert.ok(cb.searchParams.get('code'), `callback has a code: ${cb.href}`);
  assert.equal(cb.searchParams.get('state'), provider.lastState, 'state is echoed');
  assert.equal(cb.searchParams.get('iss'), h.base, 'iss (RFC 9207) is the issuer');
  assert.equal(cb.searchParams.get('error'), null);

  await transport.finishAuth(cb.searchParams.get('code'));
  const tokens = provider.tokens();
  assert.ok(tokens?.access_token, 'finishAuth stored an access token');
  assert.ok(tokens.refresh_token, 'and a refresh token');
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
});

test('TS SDK: with the token, connect + listTools + callTool go through the gateway to the origin', async () => {
  assert.ok(provider?.tokens(), 'needs the tokens from the previous test');
  session = await connect(h, provider);
  const { tools } = await session.client.listTools();
  const names = tools.map((t) => t.name);
  for (const n of ['echo', 'add', 'whoami']) assert.ok(names.includes(n), `tool ${n} listed (got ${names})`);

  const echoed = await session.client.callTool({ name: 'echo', arguments: { text: 'hello through gatehouse ✓' } });
  assert.equal(textOf(echoed), 'hello through gatehouse ✓');
  const sum = await session.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  assert.equal(textOf(sum), '42');
  assert.equal(provider.authorizations, 1, 'no second authorization was needed');
});

test('TS SDK: the origin gets X-Gatehouse-User/-Client and no Authorization or Cookie (whoami)', async () => {
  assert.ok(session, 'needs the connected client from the previous test');
  const who = JSON.parse(textOf(await session.client.callTool({ name: 'whoami', arguments: {} })));
  const claims = decodeJwt(provider.tokens().access_token).payload;
  assert.ok(who.user, 'X-Gatehouse-User is set');
  assert.equal(who.user, claims.sub, "X-Gatehouse-User is the token's subject");
  assert.equal(who.client, provider.client.client_id, 'X-Gatehouse-Client is the registered client_id');
  assert.equal(who.authorization, false, 'no Authorization header reached the origin');
  assert.equal(who.cookie, false, "the client's Cookie header did not reach the origin");
});

test('the origin never saw an access token, Authorization or Cookie header in any request', async () => {
  const seen = await h.seen();
  assert.ok(seen.length >= 3, `origin received the MCP traffic (${seen.length} requests)`);
  const tokens = provider.issuedAccessTokens.filter(Boolean);
  assert.ok(tokens.length >= 1);
  for (const req of seen) {
    assert.equal(req.headers.authorization, undefined, `Authorization forwarded on ${req.method} ${req.url}`);
    assert.equal(req.headers.cookie, undefined, `Cookie forwarded on ${req.method} ${req.url}`);
    const everything = `${req.url}\n${JSON.stringify(req.headers)}`;
    for (const t of tokens) {
      assert.ok(!everything.includes(t), `access token visible to the origin on ${req.method} ${req.url}`);
      // the JWT's signature part alone would be just as bad
      assert.ok(!everything.includes(t.split('.').pop()), `token signature visible on ${req.method} ${req.url}`);
    }
    assert.ok(req.headers['x-gatehouse-user'], `X-Gatehouse-User on every forwarded request (${req.method} ${req.url})`);
  }
});

test('the SSE stream (GET), POSTs and the session DELETE all reach the origin through the gateway, with session and protocol headers', async () => {
  const sessionId = session.transport.sessionId;
  assert.ok(sessionId, 'the origin\'s Mcp-Session-Id reached the client');
  await session.transport.terminateSession(); // DELETE /mcp
  assert.equal(session.transport.sessionId, undefined, 'session ended');
  // The client holds the gateway's grant-bound wrapping of the origin's id (base64url(id).tag).
  const originId = Buffer.from(sessionId.split('.')[0], 'base64url').toString('utf8');
  assert.notEqual(originId, sessionId, 'the client never holds the origin\'s raw session id');
  const mine = (await h.seen()).filter((r) => r.headers['mcp-session-id'] === originId);
  const methods = new Set(mine.map((r) => r.method));
  for (const m of ['GET', 'POST', 'DELETE']) assert.ok(methods.has(m), `origin saw ${m} for the session (saw ${[...methods]})`);
  const sse = mine.find((r) => r.method === 'GET');
  assert.match(sse.headers.accept ?? '', /text\/event-stream/);
  assert.ok(mine.every((r) => r.headers['mcp-protocol-version']), 'Mcp-Protocol-Version forwarded after initialize');
  await session.client.close().catch(() => {});
  session = undefined;
});

test('SSE is forwarded event by event: the first progress notification reaches the client before the origin produces the rest', async () => {
  assert.ok(provider?.tokens(), 'needs the tokens from the first test');
  const own = await connect(h, provider);
  // The origin's countdown tool sends progress 1, then waits for POST /__release (or gives up
  // after 10 s). Only this client releases it, on receiving progress 1 through the gateway: a
  // buffering gateway would hold progress 1 until the tool finished, and the tool would report
  // released=false.
  const progress = [];
  let releasing; // the POST /__release, awaited below: the tool's result can arrive before its answer
  const result = await own.client.callTool(
    { name: 'countdown', arguments: { steps: 4 } },
    undefined,
    {
      timeout: 20_000,
      onprogress: async (p) => {
        progress.push(p.progress);
        if (p.progress === 1) {
          releasing = fetch(new URL('/__release', h.originMcpUrl), { method: 'POST' }).then((r) => r.status);
          await releasing;
        }
      },
    },
  );
  assert.deepEqual(JSON.parse(textOf(result)), { released: true }, 'the origin was released by the client after event 1');
  assert.equal(await releasing, 200);
  assert.deepEqual(progress, [1, 2, 3, 4], 'every progress event arrived, in order');
  await own.client.close().catch(() => {});
});

test('TS SDK: an invalid access token makes the SDK use the refresh grant; the new token works without re-authorization', async () => {
  const before = provider.tokens();
  await session?.client.close().catch(() => {});
  provider.savedTokens = { ...before, access_token: `${before.access_token.slice(0, -8)}AAAAAAAA` }; // bad signature
  session = await connect(h, provider);
  const after = provider.tokens();
  assert.notEqual(after.access_token, before.access_token, 'a new access token was issued');
  assert.ok(after.refresh_token, 'refresh response carries a refresh token');
  assert.notEqual(after.refresh_token, before.refresh_token, 'refresh token rotated');
  assert.equal(provider.authorizations, 1, 'refreshed, not re-authorized');
  assert.equal(textOf(await session.client.callTool({ name: 'echo', arguments: { text: 'after refresh' } })), 'after refresh');
});

test('after restarting the worker (same D1 state), the stored access token still calls a tool', async () => {
  const tokensBefore = provider.tokens();
  assert.ok(tokensBefore?.access_token, 'needs the tokens from the previous tests');
  await session?.client.close().catch(() => {});
  session = undefined;
  await h.restart();
  session = await connect(h, provider);
  assert.equal(textOf(await session.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })), '2');
  assert.equal(provider.tokens().access_token, tokensBefore.access_token, 'same access token, no refresh needed');
  assert.equal(provider.authorizations, 1, 'no new authorization after the restart');
});

test('after the restart, the refresh token still works (D1 state survived) and rotates; the new access token works', async () => {
  const { client_id } = provider.client;
  const current = provider.tokens().refresh_token;
  const r = await refresh(h, client_id, current);
  assert.equal(r.status, 200, `refresh after restart: ${r.text}`);
  assert.ok(r.json.access_token && r.json.refresh_token);
  assert.notEqual(r.json.refresh_token, current, 'rotated');
  assert.equal(decodeJwt(r.json.access_token).payload.client_id, client_id);
  provider.savedTokens = { ...provider.tokens(), ...r.json };
  provider.issuedAccessTokens.push(r.json.access_token);

  await session?.client.close().catch(() => {});
  session = await connect(h, provider);
  assert.equal(textOf(await session.client.callTool({ name: 'echo', arguments: { text: 'rotated' } })), 'rotated');
  assert.equal(provider.tokens().access_token, r.json.access_token, 'used as is, no further refresh');
});

test(`a rotated-away refresh token works only within the grace window (${REFRESH_GRACE_SECONDS} s here), then invalid_grant, and that reuse revokes the grant`, async () => {
  const { client_id } = provider.client;
  const old = provider.tokens().refresh_token;
  const first = await refresh(h, client_id, old);
  const at = Date.now();
  assert.equal(first.status, 200, `refresh: ${first.text}`);
  const parallel = await refresh(h, client_id, old);
  assert.ok(Date.now() - at < REFRESH_GRACE_SECONDS * 1000, 'the second refresh was sent inside the grace window');
  assert.equal(parallel.status, 200, `a parallel/retried refresh inside the grace window: ${parallel.text}`);

  await sleep((REFRESH_GRACE_SECONDS + 1.5) * 1000 - (Date.now() - at));
  const late = await refresh(h, client_id, old);
  assert.equal(late.status, 400, `old refresh token after the grace window: ${late.status} ${late.text}`);
  assert.equal(late.json?.error, 'invalid_grant');
  const revoked = await refresh(h, client_id, first.json.refresh_token);
  assert.equal(revoked.status, 400, `reuse of a rotated token revokes the grant, newest token included: ${revoked.status} ${revoked.text}`);
  assert.equal(revoked.json?.error, 'invalid_grant');
});

test('the origin still never saw a token after refreshes and the restart', async () => {
  const seen = await h.seen();
  for (const req of seen) {
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.headers.cookie, undefined);
    const everything = `${req.url}\n${JSON.stringify(req.headers)}`;
    for (const t of provider.issuedAccessTokens.filter(Boolean)) assert.ok(!everything.includes(t));
  }
});
