// Gatehouse's protocol surface over plain HTTP (no SDK): discovery documents, the 401
// challenge, dynamic client registration, the authorization-code flow with PKCE, the token
// endpoint's errors, and what reaches the origin. One worker for the whole file.
// Attacks and refusals (forged tokens, bad redirect URIs, PKCE, code replay, CSRF, bodies over
// the limit…) are in security.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, randomBytes, verify } from 'node:crypto';
import { startHarness } from './harness.mjs';
import { Browser, approveAsOwner, continueAsOwner, fillForm, parseForms } from './owner.mjs';
import {
  LOOPBACK_REDIRECT, authorizeUrl, decodeJwt, get, initializeBody, manualFlow, mcpPost, parseChallenge,
  pkcePair, postForm, register,
} from './oauth.mjs';

const BROWSER_ORIGIN = 'http://localhost:6274'; // MCP Inspector, a browser-based client

let h;
before(async () => {
  h = await startHarness({ name: 'protocol' });
});
after(async () => {
  await h?.stop();
});

// One full manual flow, shared by the tests that need a valid token.
let flowPromise;
const validFlow = () => (flowPromise ??= manualFlow(h));
async function validToken() {
  const { token } = await validFlow();
  assert.equal(token.status, 200, `token request failed: ${token.text}`);
  return token.json.access_token;
}

const originRequestCount = async () => (await h.seen()).length;

/** JSON-RPC messages in an MCP response (JSON body or SSE `data:` lines). */
function rpcMessages(res) {
  if (res.json) return [res.json];
  return res.text
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => JSON.parse(l.slice(5)));
}

// ---- discovery -------------------------------------------------------------------

for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
  test(`discovery: ${path} is RFC 9728 metadata for <base>/mcp, with CORS`, async () => {
    const r = await get(`${h.base}${path}`, { origin: BROWSER_ORIGIN });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(r.json.resource, `${h.base}/mcp`);
    assert.deepEqual(r.json.authorization_servers, [h.base]);
    const acao = r.headers.get('access-control-allow-origin');
    assert.ok(acao === '*' || acao === BROWSER_ORIGIN, `Access-Control-Allow-Origin: ${acao}`);
  });
}

for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
  test(`discovery: ${path} is RFC 8414 metadata with the fields clients require, with CORS`, async () => {
    const r = await get(`${h.base}${path}`, { origin: BROWSER_ORIGIN });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const m = r.json;
    assert.equal(m.issuer, h.base, 'issuer is the bare origin');
    assert.equal(m.authorization_endpoint, `${h.base}/authorize`);
    assert.equal(m.token_endpoint, `${h.base}/token`);
    assert.equal(m.registration_endpoint, `${h.base}/register`);
    assert.equal(m.jwks_uri, `${h.base}/.well-known/jwks.json`);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.ok(m.grant_types_supported?.includes('authorization_code'), `grant_types_supported: ${m.grant_types_supported}`);
    assert.ok(m.grant_types_supported.includes('refresh_token'));
    assert.ok(m.token_endpoint_auth_methods_supported?.includes('none'), `auth methods: ${m.token_endpoint_auth_methods_supported}`);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    const acao = r.headers.get('access-control-allow-origin');
    assert.ok(acao === '*' || acao === BROWSER_ORIGIN, `Access-Control-Allow-Origin: ${acao}`);
  });
}

test('discovery: /.well-known/jwks.json has one Ed25519 public key (with kid), the public half of SIGNING_KEY', async () => {
  const r = await get(`${h.base}/.well-known/jwks.json`, { origin: BROWSER_ORIGIN });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.keys?.length, 1, r.text);
  const [k] = r.json.keys;
  assert.equal(k.kty, 'OKP');
  assert.equal(k.crv, 'Ed25519');
  assert.ok(typeof k.kid === 'string' && k.kid.length > 0, 'kid');
  assert.equal(k.d, undefined, 'no private key material');
  assert.equal(Buffer.from(k.x, 'base64url').length, 32);
  const expected = createPublicKey(seedKey(h.signingKey)).export({ format: 'jwk' }).x;
  assert.equal(k.x, expected, 'the key is derived from SIGNING_KEY');
  const acao = r.headers.get('access-control-allow-origin');
  assert.ok(acao === '*' || acao === BROWSER_ORIGIN, `Access-Control-Allow-Origin: ${acao}`);
});

// ---- the 401 challenge -------------------------------------------------------------

function assertChallenge(r, what) {
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${r.text.slice(0, 200)}`);
  const header = r.headers.get('www-authenticate');
  assert.ok(header, `${what}: WWW-Authenticate present`);
  const { scheme, params } = parseChallenge(header);
  assert.equal(scheme.toLowerCase(), 'bearer', `${what}: ${header}`);
  assert.equal(params.resource_metadata, `${h.base}/.well-known/oauth-protected-resource/mcp`, `${what}: ${header}`);
}

const unauthenticatedRequests = (authorization) => {
  const auth = authorization ? { authorization } : {};
  return [
    ['GET /mcp', () => get(h.mcpUrl, { accept: 'text/event-stream', ...auth })],
    ['POST /mcp', () => mcpPost(h.mcpUrl, initializeBody(), auth)],
    ['POST /', () => mcpPost(`${h.base}/`, initializeBody(), auth)],
  ];
};

test('401 challenge: /mcp (GET, POST) and POST / without a token answer Bearer resource_metadata=<PRM URL>; nothing reaches the origin', async () => {
  const n = await originRequestCount();
  for (const [what, send] of unauthenticatedRequests()) assertChallenge(await send(), what);
  assert.equal(await originRequestCount(), n, 'the origin received nothing');
});

test('401 challenge: garbage bearer tokens and other schemes get the same challenge', async () => {
  const n = await originRequestCount();
  const jwtShaped = `${Buffer.from('{"alg":"EdDSA","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"owner"}').toString('base64url')}.${randomBytes(64).toString('base64url')}`;
  for (const authorization of ['Bearer not-a-token', `Bearer ${jwtShaped}`, 'Bearer ', 'Basic b3duZXI6cGFzc3dvcmQ=']) {
    for (const [what, send] of unauthenticatedRequests(authorization)) assertChallenge(await send(), `${what} with ${authorization.slice(0, 12)}…`);
  }
  assert.equal(await originRequestCount(), n, 'the origin received nothing');
});

test('CORS for browser clients: /mcp preflight allows Authorization + MCP headers, the 401 exposes WWW-Authenticate; none on /authorize', async () => {
  const pre = await fetch(h.mcpUrl, {
    method: 'OPTIONS',
    headers: {
      origin: BROWSER_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,mcp-protocol-version,mcp-session-id',
    },
    signal: AbortSignal.timeout(10_000),
  });
  await pre.arrayBuffer();
  assert.ok(pre.status === 200 || pre.status === 204, `preflight answered ${pre.status}`);
  const acao = pre.headers.get('access-control-allow-origin');
  assert.ok(acao === '*' || acao === BROWSER_ORIGIN, `preflight Access-Control-Allow-Origin: ${acao}`);
  const allowed = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase();
  for (const hdr of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id']) {
    assert.ok(allowed === '*' || allowed.split(/\s*,\s*/).includes(hdr), `preflight allows ${hdr} (${allowed})`);
  }
  const r = await mcpPost(h.mcpUrl, initializeBody(), { origin: BROWSER_ORIGIN });
  assert.equal(r.status, 401);
  const exposed = (r.headers.get('access-control-expose-headers') ?? '').toLowerCase();
  assert.ok(exposed.split(/\s*,\s*/).includes('www-authenticate'), `401 exposes WWW-Authenticate (${exposed})`);
  const page = await get(`${h.base}/authorize?client_id=x`, { origin: BROWSER_ORIGIN });
  assert.equal(page.headers.get('access-control-allow-origin'), null, 'no CORS on /authorize (RFC 9700 §2.6)');
});

// ---- access tokens ------------------------------------------------------------------------

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
function seedKey(seedB64u) {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(seedB64u, 'base64url')]), format: 'der', type: 'pkcs8' });
}

test('access token: an EdDSA JWT with kid, verifiable with the JWKS key, claims iss/sub/aud/client_id/scope/iat/exp/jti', async () => {
  const { client } = await validFlow();
  const token = await validToken();
  const { header, payload, signingInput, signature } = decodeJwt(token);
  assert.equal(header.alg, 'EdDSA');
  const jwks = (await get(`${h.base}/.well-known/jwks.json`)).json;
  assert.equal(header.kid, jwks.keys[0].kid, 'kid names the JWKS key');
  const pub = createPublicKey({ key: jwks.keys[0], format: 'jwk' });
  assert.ok(verify(null, Buffer.from(signingInput), pub, Buffer.from(signature, 'base64url')), 'signature verifies');
  assert.equal(payload.iss, h.base);
  assert.equal(payload.aud, h.mcpUrl);
  assert.equal(payload.client_id, client.client_id);
  for (const c of ['sub', 'scope', 'jti']) assert.equal(typeof payload[c], 'string', `claim ${c}`);
  for (const c of ['iat', 'exp']) assert.equal(typeof payload[c], 'number', `claim ${c}`);
  assert.ok(payload.exp > Date.now() / 1000 && payload.iat <= Date.now() / 1000 + 60);
});

// ---- forwarding ------------------------------------------------------------------------

test('with a valid token, POST /mcp and POST / reach the origin MCP server (initialize answers, session id passes back)', async () => {
  const token = await validToken();
  for (const url of [h.mcpUrl, `${h.base}/`]) {
    const r = await mcpPost(url, initializeBody(), { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200, `${url}: ${r.status} ${r.text.slice(0, 300)}`);
    const [msg] = rpcMessages(r);
    assert.equal(msg?.result?.serverInfo?.name, 'gatehouse-demo-origin', `${url}: ${r.text.slice(0, 300)}`);
    assert.ok(r.headers.get('mcp-session-id'), `${url}: Mcp-Session-Id passed back`);
  }
});

test('forwarding passes Mcp-Session-Id (unwrapped to the origin\'s own), Mcp-Protocol-Version, Last-Event-ID, Accept, Content-Type through, and the origin\'s status back', async () => {
  const token = await validToken();
  const auth = { authorization: `Bearer ${token}` };
  const init = await mcpPost(h.mcpUrl, initializeBody(), auth);
  const sid = init.headers.get('mcp-session-id'); // bound to this grant by the gateway
  assert.ok(sid, `initialize through the gateway returns a session id: ${init.status} ${init.text.slice(0, 200)}`);
  const originSid = Buffer.from(sid.split('.')[0], 'base64url').toString('utf8');
  const before = await originRequestCount();
  const sent = {
    'mcp-session-id': sid,
    'mcp-protocol-version': '2025-06-18',
    'last-event-id': 'e2e-event-41',
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
  };
  const r = await mcpPost(h.mcpUrl, { jsonrpc: '2.0', id: 7, method: 'tools/list' }, { ...sent, ...auth });
  assert.equal(r.status, 200, `the origin's answer comes back: ${r.status} ${r.text.slice(0, 200)}`);
  assert.ok(rpcMessages(r).some((m) => m.id === 7 && m.result?.tools), "the origin's JSON-RPC result comes back");
  const fresh = (await h.seen()).slice(before);
  assert.equal(fresh.length, 1, 'one request reached the origin');
  assert.equal(fresh[0].headers['mcp-session-id'], originSid, "the origin gets its own session id back");
  assert.notEqual(originSid, sid);
  for (const [k, v] of Object.entries(sent)) if (k !== 'mcp-session-id') assert.equal(fresh[0].headers[k], v, `${k} forwarded unchanged`);
  assert.equal(fresh[0].method, 'POST');
});

// ---- dynamic client registration ---------------------------------------------------------

const REAL_CLIENTS = {
  'claude.ai': { redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] },
  'Claude (claude.com)': { redirect_uris: ['https://claude.com/api/mcp/auth_callback'] },
  'Claude Code': { redirect_uris: ['http://localhost:53682/callback'] },
  Codex: { client_name: 'Codex', redirect_uris: ['http://127.0.0.1:41237/callback/8f3c2a1b9d'] },
  'mcp-remote': { redirect_uris: ['http://localhost:14857/oauth/callback'] },
  'VS Code': {
    application_type: 'native',
    redirect_uris: ['https://vscode.dev/redirect', 'https://insiders.vscode.dev/redirect', 'http://127.0.0.1/', 'http://127.0.0.1:33418/'],
  },
  Cursor: { redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback'] },
  'Cursor (web)': { redirect_uris: ['https://www.cursor.com/agents/mcp/oauth/callback'] },
  'Cursor (local)': { redirect_uris: ['http://localhost:8787/callback'] },
  'MCP Inspector': { redirect_uris: ['http://localhost:6274/oauth/callback'] },
  'MCP Inspector (proxy)': { redirect_uris: ['http://127.0.0.1:6276/oauth/callback'] },
};

const nullPaths = (v, path = '$') =>
  v === null ? [path] : typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => nullPaths(x, `${path}.${k}`)) : [];

for (const [name, metadata] of Object.entries(REAL_CLIENTS)) {
  test(`DCR: ${name}'s registration succeeds and echoes its redirect_uris, no null fields`, async () => {
    const r = await register(h.base, { client_name: name, ...metadata });
    assert.equal(r.status, 201, `${r.status} ${r.text}`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(typeof r.json.client_id === 'string' && r.json.client_id.length > 0, 'client_id');
    assert.deepEqual(r.json.redirect_uris, metadata.redirect_uris);
    assert.equal(r.json.token_endpoint_auth_method, 'none', 'the requested auth method is honoured');
    assert.deepEqual(nullPaths(r.json), [], 'no null fields');
  });
}

// ---- authorization code + PKCE -----------------------------------------------------------

test('manual flow: register, owner logs in and approves, 303s end at redirect_uri with code/state/iss, code + verifier -> tokens', async () => {
  const flow = await validFlow();
  assert.equal(`${flow.location.origin}${flow.location.pathname}`, LOOPBACK_REDIRECT);
  assert.ok(flow.code, `code in ${flow.location.href}`);
  assert.equal(flow.location.searchParams.get('state'), flow.state);
  assert.equal(flow.location.searchParams.get('iss'), h.base);
  const t = flow.token;
  assert.equal(t.status, 200, t.text);
  assert.match(t.headers.get('content-type') ?? '', /^application\/json/);
  assert.match(t.headers.get('cache-control') ?? '', /no-store/, 'token responses are not cached (RFC 6749 §5.1)');
  assert.equal(t.json.token_type.toLowerCase(), 'bearer');
  assert.ok(t.json.access_token);
  assert.ok(t.json.refresh_token);
  assert.equal(typeof t.json.expires_in, 'number');
});

/** Registers a client and walks the owner's pages for it; `decision` is approve or deny. */
async function ownerDecides(state, decision = 'approve') {
  const reg = await register(h.base);
  const pkce = pkcePair();
  return approveAsOwner(
    authorizeUrl(h.base, {
      response_type: 'code', client_id: reg.json.client_id, redirect_uri: LOOPBACK_REDIRECT, state,
      code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
    }),
    { base: h.base, password: h.password, decision },
  );
}

test('the owner pages redirect with 303 after each POST', async () => {
  const { browser } = await ownerDecides('s');
  const posts = browser.trace.filter((s) => s.method === 'POST');
  // One POST since the sign-in page's password form carries the decision (POST /login signs in and approves).
  assert.ok(posts.length >= 1, `the sign-in form was POSTed: ${JSON.stringify(browser.trace)}`);
  for (const p of posts) assert.equal(p.status, 303, `POST ${p.url} answered ${p.status}`);
});

test('owner denies: redirect to redirect_uri with error=access_denied, state and iss, no code', async () => {
  const { location } = await ownerDecides('deny-state', 'deny');
  const u = new URL(location);
  assert.equal(`${u.origin}${u.pathname}`, LOOPBACK_REDIRECT);
  assert.equal(u.searchParams.get('error'), 'access_denied');
  assert.equal(u.searchParams.get('state'), 'deny-state');
  assert.equal(u.searchParams.get('iss'), h.base);
  assert.equal(u.searchParams.get('code'), null);
});

test('a wrong password re-shows the login form (401 or 200), issues no code; the right one then works', async () => {
  const reg = await register(h.base);
  const pkce = pkcePair();
  const browser = new Browser(h.base);
  const login = await browser.request(authorizeUrl(h.base, {
    response_type: 'code', client_id: reg.json.client_id, redirect_uri: LOOPBACK_REDIRECT, state: 'pw',
    code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
  }));
  assert.equal(login.status, 200, login.text.slice(0, 300));
  const form = parseForms(login.text).find((f) => f.inputs.some((i) => i.name === 'password'));
  assert.ok(form, 'the login page has a form with a password field');

  const wrong = await browser.request(new URL(form.action, login.url), {
    method: 'POST', form: fillForm(form, { password: `${h.password}-wrong` }),
  });
  assert.ok([200, 401].includes(wrong.status), `wrong password answered ${wrong.status}`);
  assert.equal(wrong.location, null, 'no redirect');
  assert.ok(!/[?&]code=/.test(wrong.text), 'no code on the page');
  assert.ok(parseForms(wrong.text).some((f) => f.inputs.some((i) => i.name === 'password')), 'the login form is shown again');

  // A re-shown form carries what is needed to continue (fresh CSRF token, request id).
  const { location } = await continueAsOwner(browser, wrong, { password: h.password });
  assert.ok(new URL(location).searchParams.get('code'), `the right password completes the flow: ${location}`);
});

// ---- token endpoint errors ----------------------------------------------------------------

test('POST /token with an unsupported grant_type fails with 400 unsupported_grant_type', async () => {
  const { client } = await validFlow();
  for (const grant_type of ['password', 'urn:ietf:params:oauth:grant-type:device_code']) {
    const r = await postForm(`${h.base}/token`, { grant_type, client_id: client.client_id, username: 'owner', password: h.password });
    assert.equal(r.status, 400, `${grant_type}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'unsupported_grant_type', r.text);
  }
});

// ---- origin down (last: restarts the origin) -------------------------------------------------

test('an unreachable origin gives 502 with a clear message (not 500); once the origin is back, requests go through again', async () => {
  const token = await validToken();
  await h.stopOrigin();
  try {
    const r = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${token}` });
    assert.equal(r.status, 502, `${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(r.text.trim().length > 0, 'the 502 explains itself');
    assert.ok(!r.text.includes(token), 'without echoing the token');
  } finally {
    await h.startOrigin();
  }
  const again = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${token}` });
  assert.equal(again.status, 200, again.text.slice(0, 300));
});
