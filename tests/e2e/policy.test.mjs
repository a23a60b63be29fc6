// Registration policy (redirect-URI allow-list, hourly cap per source), the cron cleanup of
// stale rows, CORS, and the security headers on every response of every route.
// One worker (with --test-scheduled) for most of the file; one misconfigured worker for the
// config-error responses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startHarness } from './harness.mjs';
import { decodeJwt, initializeBody, manualFlow, postForm, postJson, refresh, register } from './oauth.mjs';

const DAY = 24 * 3600;
const ALLOWLIST = 'loopback https://claude.ai/api/mcp/auth_callback https://allowed.example/cb/*';
const PER_HOUR = 5;

let h;
before(async () => {
  h = await startHarness({
    name: 'policy',
    testScheduled: true,
    logLevel: 'log', // the cleanup's JSON line is a console.log
    vars: { REDIRECT_URI_ALLOWLIST: ALLOWLIST, REGISTRATIONS_PER_HOUR: String(PER_HOUR) },
  });
});
after(async () => {
  await h?.stop();
});

const sha256 = (s) => createHash('sha256').update(s).digest('base64url');
const nowSecs = () => Math.floor(Date.now() / 1000);
const q = (s) => `'${String(s).replaceAll("'", "''")}'`;

// ---- cron cleanup -------------------------------------------------------------------
// These run first, so the database holds only what they create and the logged counts are exact.

let live; // a client in use: its flow, grant id
let stale; // a client that will be removed: its flow
test('cron: removes exactly the stale rows and leaves the live ones untouched', async () => {
  // Registration counts are per clock hour: start well clear of the next hour boundary, so
  // this test's counts all fall in one hour (a bounded wait, at most ~2.5 minutes).
  const toNextHour = 3600 - (nowSecs() % 3600);
  if (toNextHour < 150) await new Promise((r) => setTimeout(r, (toNextHour + 2) * 1000));
  live = await manualFlow(h);
  stale = await manualFlow(h);
  assert.equal(live.token.status, 200, live.token.text);
  assert.equal(stale.token.status, 200, stale.token.text);
  const L = live.client.client_id;
  const S = stale.client.client_id;
  const gid = decodeJwt(live.token.json.access_token).payload.gid;
  const now = nowSecs();
  const hour = now - (now % 3600);

  const pending = (id, client, exp) =>
    `INSERT INTO pending_authorizations (id, client_id, redirect_uri, state, code_challenge, scope, resource, browser_hash, expires_at) VALUES (${q(id)}, ${q(client)}, 'u', NULL, 'c', 'mcp', 'r', 'b', ${exp})`;
  const code = (hash, client, grant, exp) =>
    `INSERT INTO auth_codes (code_hash, client_id, redirect_uri, code_challenge, scope, resource, grant_id, expires_at) VALUES (${q(hash)}, ${q(client)}, 'u', 'c', 'mcp', 'r', ${q(grant)}, ${exp})`;
  const rt = (hash, client, grant, exp, used = 'NULL') =>
    `INSERT INTO refresh_tokens (token_hash, grant_id, client_id, expires_at, used_at) VALUES (${q(hash)}, ${q(grant)}, ${q(client)}, ${exp}, ${used})`;
  const grant = (id, client, revoked) =>
    `INSERT INTO grants (grant_id, client_id, subject, scope, resource, created_at, revoked_at) VALUES (${q(id)}, ${q(client)}, 'owner', 'mcp', 'r', ${now - DAY}, ${revoked})`;
  const client = (id, created, used = 'NULL') =>
    `INSERT INTO clients (client_id, auth_method, redirect_uris, grant_types, metadata, created_at, last_used_at) VALUES (${q(id)}, 'none', '[]', '["authorization_code"]', '{}', ${created}, ${used})`;
  await h.sql(
    [
      // The stale client: registered and last used 40 days ago (STALE_CLIENT_DAYS=30).
      `UPDATE clients SET created_at = ${now - 40 * DAY}, last_used_at = ${now - 40 * DAY} WHERE client_id = ${q(S)}`,
      pending('p_of_stale', S, now + 600),
      client('gh_old_unused', now - 40 * DAY),
      client('gh_young_unused', now - DAY),
      client('gh_old_but_used', now - 40 * DAY, now - DAY),
      pending('p_expired', L, now - 10),
      pending('p_live', L, now + 600),
      code('c_expired_long_ago', L, gid, now - 7200),
      code('c_live', L, gid, now + 60),
      rt('r_expired', L, gid, now - 10),
      rt('r_rotated', L, gid, now + DAY, now - 7200),
      grant('g_revoked_old', L, now - 7200),
      rt('r_of_revoked', L, 'g_revoked_old', now + DAY),
      code('c_of_revoked', L, 'g_revoked_old', now + 60),
      grant('g_revoked_recent', L, now - 10),
      `INSERT INTO login_failures (key, at) VALUES ('login:192.0.2.1', ${now - 3600}), ('login:192.0.2.1', ${now - 5})`,
      `INSERT INTO registration_counts (source, window_start, n) VALUES ('192.0.2.9', ${hour - 3600}, 4), ('192.0.2.9', ${hour}, 1)`,
      `INSERT INTO source_counts (kind, source, window_start, n) VALUES ('pending', '192.0.2.9', ${hour - 3600}, 4), ('pending', '192.0.2.9', ${hour}, 1)`,
      `INSERT INTO session_revocations (session, revoked_at, expires_at) VALUES ('s_expired', ${now - DAY}, ${now - 1}), ('s_live', ${now - 5}, ${now + 3600})`,
      // Audit events are kept 180 days.
      `INSERT INTO audit_events (at, event, detail) VALUES (${now - 181 * DAY}, 'e2e.ancient', '{}'), (${now - 179 * DAY}, 'e2e.old_but_kept', '{}')`,
      // Sign-in leftovers go once expired.
      `INSERT INTO upstream_states (state_hash, cookie_hash, provider, pending_id, nonce, expires_at) VALUES ('u_expired', 'c', 'oidc', 'p', 'n', ${now - 1}), ('u_live', 'c', 'oidc', 'p', 'n', ${now + 600})`,
      `INSERT INTO passkey_challenges (challenge_hash, purpose, browser, expires_at) VALUES ('ch_expired', 'login', 'b', ${now - 1}), ('ch_live', 'login', 'b', ${now + 300})`,
      `INSERT INTO remembered_consents (subject, client_id, scope, created_at, expires_at) VALUES ('owner', 'rc_expired', 'mcp', ${now - DAY}, ${now - 1}), ('owner', 'rc_live', 'mcp', ${now - DAY}, ${now + DAY})`,
    ].join(';\n'),
  );

  const logBefore = h.logTail(100000).length;
  const cron = await h.runCron();
  assert.equal(cron.status, 200, cron.text);

  // D1 limits compound SELECTs, so one statement per table (h.sql returns all their rows).
  const rows = await h.sql(
    [
      `SELECT 'clients' AS t, client_id AS id FROM clients`,
      `SELECT 'grants' AS t, grant_id AS id FROM grants`,
      `SELECT 'codes' AS t, code_hash AS id FROM auth_codes`,
      `SELECT 'refresh' AS t, token_hash AS id FROM refresh_tokens`,
      `SELECT 'pending' AS t, id FROM pending_authorizations`,
      `SELECT 'failures' AS t, key || '@' || at AS id FROM login_failures`,
      `SELECT 'counts' AS t, source || '@' || window_start AS id FROM registration_counts`,
      `SELECT 'budgets' AS t, source || '@' || window_start AS id FROM source_counts`,
      `SELECT 'signouts' AS t, session AS id FROM session_revocations`,
      `SELECT 'audit' AS t, event AS id FROM audit_events`,
      `SELECT 'upstream' AS t, state_hash AS id FROM upstream_states`,
      `SELECT 'challenges' AS t, challenge_hash AS id FROM passkey_challenges`,
      `SELECT 'remembered' AS t, client_id AS id FROM remembered_consents`,
    ].join(';\n'),
  );
  assert.ok(rows.some((r) => r.t === 'clients') && rows.some((r) => r.t === 'counts'), `rows of every table: ${JSON.stringify(rows).slice(0, 300)}`);
  const present = (t, id) => rows.some((r) => r.t === t && r.id === id);
  const gone = [
    ['clients', S], ['clients', 'gh_old_unused'],
    ['grants', decodeJwt(stale.token.json.access_token).payload.gid], ['grants', 'g_revoked_old'],
    ['refresh', sha256(stale.token.json.refresh_token)], ['refresh', 'r_expired'], ['refresh', 'r_of_revoked'],
    ['codes', sha256(stale.code)], ['codes', 'c_expired_long_ago'], ['codes', 'c_of_revoked'],
    ['pending', 'p_of_stale'], ['pending', 'p_expired'],
    ['failures', `login:192.0.2.1@${now - 3600}`],
    ['counts', `192.0.2.9@${hour - 3600}`],
    ['budgets', `192.0.2.9@${hour - 3600}`], ['signouts', 's_expired'],
    ['audit', 'e2e.ancient'],
    ['upstream', 'u_expired'], ['challenges', 'ch_expired'], ['remembered', 'rc_expired'],
  ];
  const kept = [
    ['clients', L], ['clients', 'gh_young_unused'], ['clients', 'gh_old_but_used'],
    ['grants', gid], ['grants', 'g_revoked_recent'],
    ['refresh', sha256(live.token.json.refresh_token)], ['refresh', 'r_rotated'],
    ['codes', sha256(live.code)], ['codes', 'c_live'],
    ['pending', 'p_live'],
    ['failures', `login:192.0.2.1@${now - 5}`],
    ['counts', `192.0.2.9@${hour}`],
    ['budgets', `192.0.2.9@${hour}`], ['signouts', 's_live'],
    ['audit', 'e2e.old_but_kept'],
    ['upstream', 'u_live'], ['challenges', 'ch_live'], ['remembered', 'rc_live'],
  ];
  for (const [t, id] of gone) assert.ok(!present(t, id), `${t} ${id} should have been removed`);
  for (const [t, id] of kept) assert.ok(present(t, id), `${t} ${id} should still be there`);

  // One JSON log line with the count per table: exactly the rows above.
  let line;
  for (let i = 0; i < 50 && !line; i++) {
    line = h.logTail(100000).slice(logBefore).split('\n').find((l) => l.includes('"event":"cleanup"'));
    if (!line) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(line, `no cleanup log line in:\n${h.logTail(40)}`);
  const logged = JSON.parse(line.slice(line.indexOf('{')));
  assert.deepEqual(logged.removed, {
    clients: 2, grants: 2, auth_codes: 3, refresh_tokens: 3, pending_authorizations: 2, login_failures: 1, registration_counts: 1, audit_events: 1,
    upstream_states: 1, passkey_challenges: 1, remembered_consents: 1, source_counts: 1, session_revocations: 1,
  });
});

test('cron: a live client still refreshes after the cleanup, and /token recorded its use', async () => {
  assert.ok(live, 'needs the cleanup test');
  const r = await refresh(h, live.client.client_id, live.token.json.refresh_token);
  assert.equal(r.status, 200, r.text);
  const [row] = await h.sql(`SELECT last_used_at FROM clients WHERE client_id = ${q(live.client.client_id)}`);
  assert.ok(Math.abs(row.last_used_at - nowSecs()) < 600, `last_used_at ${row.last_used_at}`);
});

test('cron: a removed client gets 401 invalid_client at /token (so MCP clients register again)', async () => {
  assert.ok(stale, 'needs the cleanup test');
  const r = await refresh(h, stale.client.client_id, stale.token.json.refresh_token);
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.error, 'invalid_client');
});

// ---- registration policy --------------------------------------------------------------
// Each test registers from its own address (CF-Connecting-IP), so the hourly cap of one
// never spends another's; manualFlow's registrations come from 127.0.0.1.

const registerFrom = (ip, metadata) =>
  postJson(`${h.base}/register`, { token_endpoint_auth_method: 'none', ...metadata }, { 'cf-connecting-ip': ip });

test('registration: a redirect URI outside REDIRECT_URI_ALLOWLIST is refused with 400 invalid_redirect_uri naming it', async () => {
  for (const uris of [['https://evil.example/cb'], ['http://localhost:1234/cb', 'https://claude.com/api/mcp/auth_callback'], ['https://allowed.example/other']]) {
    const r = await registerFrom('192.0.2.20', { redirect_uris: uris });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid_redirect_uri');
    assert.ok(r.json.error_description.includes(uris.at(-1)), r.json.error_description);
    assert.equal(r.json.client_id, undefined);
  }
});

test('registration: `<prefix>../`, `%2e%2e/` and `..\\` cannot leave an allowed prefix (the browser resolves them, the check must not be fooled): 400 invalid_redirect_uri', async () => {
  for (const uri of [
    'https://allowed.example/cb/../../evil',
    'https://allowed.example/cb/%2e%2e/%2E%2E/evil',
    'https://allowed.example/cb/.%2e/evil',
    'https://allowed.example/cb/..\\..\\evil',
    'https://allowed.example/cb/..%2F..%2Fevil',
  ]) {
    const r = await registerFrom('192.0.2.22', { redirect_uris: [uri] });
    assert.equal(r.status, 400, `${uri} (a browser goes to ${new URL(uri).href}): ${r.text}`);
    assert.equal(r.json.error, 'invalid_redirect_uri');
    assert.equal(r.json.client_id, undefined);
  }
});

test('registration: exact, prefix and loopback (any port) entries of the allow-list register', async () => {
  for (const uris of [
    ['https://claude.ai/api/mcp/auth_callback'],
    ['https://allowed.example/cb/anything'],
    ['http://127.0.0.1:41234/callback/3f9a1c', 'http://localhost:53682/callback', 'http://[::1]:9000/cb'],
  ]) {
    const r = await registerFrom('192.0.2.21', { redirect_uris: uris });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json.redirect_uris, uris);
  }
});

test(`registration: the ${PER_HOUR + 1}th registration from one source in an hour gets 429 with Retry-After; other sources are unaffected`, async () => {
  const from = (ip) => registerFrom(ip, { redirect_uris: ['http://127.0.0.1/cb'] });
  for (let i = 0; i < PER_HOUR; i++) {
    const r = await from('198.51.100.7');
    assert.equal(r.status, 201, `registration ${i + 1}: ${r.text}`);
  }
  const over = await from('198.51.100.7');
  assert.equal(over.status, 429, over.text);
  assert.equal(over.json.error, 'slow_down');
  assert.match(over.json.error_description, /per hour/);
  const retry = Number(over.headers.get('retry-after'));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 3600, `Retry-After: ${over.headers.get('retry-after')}`);
  assert.equal(over.headers.get('cache-control'), 'no-store');
  assert.equal((await from('198.51.100.8')).status, 201, 'another address has its own count');

  // An IPv6 client owns its /64: every address in it is one source.
  for (let i = 0; i < PER_HOUR; i++) assert.equal((await from(`2001:db8:7:7::${i + 1}`)).status, 201);
  assert.equal((await from('2001:db8:7:7:ffff::1')).status, 429);
  assert.equal((await from('2001:db8:7:8::1')).status, 201);
});

// ---- CORS and security headers on every route ---------------------------------------------

const BROWSER = 'http://localhost:6274'; // MCP Inspector
const CORS_PATHS = [
  '/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp',
  '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/jwks.json',
  '/register', '/token', '/revoke', '/introspect', '/mcp', '/',
];
const DISCOVERY = CORS_PATHS.slice(0, 5);

async function send(base, method, path, { headers = {}, body } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { origin: BROWSER, 'cf-connecting-ip': '192.0.2.77', ...headers },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** The headers every response must carry; `cors` says whether browsers may read it. */
function assertHeaders(label, r, { cors, cacheable = false, https = false }) {
  const g = (n) => r.headers.get(n);
  assert.equal(g('x-content-type-options'), 'nosniff', label);
  assert.equal(g('referrer-policy'), 'no-referrer', label);
  assert.equal(g('x-frame-options'), 'DENY', label);
  assert.match(g('content-security-policy') ?? '', /frame-ancestors 'none'/, label);
  if (https) assert.equal(g('strict-transport-security'), 'max-age=31536000', label);
  else assert.equal(g('strict-transport-security'), null, `${label}: no HSTS over http`);
  if (cacheable) assert.equal(g('cache-control'), 'public, max-age=300', label);
  else assert.match(g('cache-control') ?? '', /no-store|no-cache/, `${label}: cache-control ${g('cache-control')}`);
  if ([401, 403].includes(r.status) || (!cacheable && !label.includes(' 200 MCP'))) assert.equal(g('cache-control'), 'no-store', label);
  if ((g('content-type') ?? '').startsWith('text/html')) {
    assert.match(g('content-security-policy'), /default-src 'none'/, label);
  }
  if (cors) {
    assert.equal(g('access-control-allow-origin'), '*', label);
    for (const e of ['WWW-Authenticate', 'Mcp-Session-Id', 'Mcp-Protocol-Version']) {
      assert.ok((g('access-control-expose-headers') ?? '').includes(e), `${label}: expose ${e}`);
    }
  } else {
    assert.equal(g('access-control-allow-origin'), null, `${label}: no CORS`);
  }
}

/** (method, path, options, expectation) over every route and the ways each can fail. */
function routeTable(token) {
  const json = { 'content-type': 'application/json' };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const bearer = token ? { authorization: `Bearer ${token}` } : {};
  const mcp = { ...json, accept: 'application/json, text/event-stream', ...bearer };
  const rows = [
    ...DISCOVERY.map((p) => ['GET', p, {}, { cors: true, cacheable: true, status: 200 }]),
    ['POST', '/register', { headers: json, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'] }) }, { cors: true, status: 201 }],
    ['POST', '/register', { headers: json, body: '{not json' }, { cors: true, status: 400 }],
    ['POST', '/token', { headers: form, body: 'grant_type=authorization_code&code=x&client_id=nobody' }, { cors: true, status: 401 }],
    ['POST', '/token', { headers: form, body: 'grant_type=password' }, { cors: true, status: 400 }],
    ['POST', '/revoke', { headers: form, body: 'token=x' }, { cors: true }],
    ['POST', '/introspect', { headers: form, body: 'token=x' }, { cors: true }],
    ['GET', '/authorize', {}, { cors: false, status: 400 }],
    ['GET', '/authorize?client_id=nobody&response_type=code', {}, { cors: false, status: 400 }],
    ['POST', '/login', { headers: form, body: 'password=x' }, { cors: false }],
    ['GET', '/consent', {}, { cors: false }],
    ['POST', '/consent', { headers: form, body: 'decision=approve' }, { cors: false }],
    ['GET', '/', {}, { cors: false, status: 200 }],
    ['GET', '/mcp', {}, { cors: true, status: 401 }],
    ['POST', '/mcp', { headers: { ...json, authorization: 'Bearer not-a-jwt' }, body: JSON.stringify(initializeBody()) }, { cors: true, status: 401 }],
    ['GET', '/no-such-thing', {}, { cors: false, status: 404 }],
    ['PUT', '/token', {}, { cors: true, status: 405, allow: 'POST' }],
    ['DELETE', '/login', {}, { cors: false, status: 405, allow: 'POST' }],
    ['GET', '/register', {}, { cors: true, status: 405, allow: 'POST' }],
    ...CORS_PATHS.map((p) => ['OPTIONS', p, { headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } }, { cors: true, status: 204, preflight: true }]),
    ...['/authorize', '/login', '/consent', '/no-such-thing'].map((p) => ['OPTIONS', p, { headers: { 'access-control-request-method': 'POST' } }, { cors: false, preflightRefused: true }]),
  ];
  if (token) {
    for (const p of ['/mcp', '/']) rows.push(['POST', p, { headers: mcp, body: JSON.stringify(initializeBody()) }, { cors: true, status: 200, label: '200 MCP' }]);
  }
  return rows;
}

async function checkTable(base, rows, { https = false } = {}) {
  for (const [method, path, opts, want] of rows) {
    const r = await send(base, method, path, opts);
    const label = `${method} ${path} -> ${r.status}${want.label ? ` ${want.label}` : ''}`;
    const status = want.status;
    if (status) assert.equal(r.status, status, `${label}: ${r.text.slice(0, 200)}`);
    assertHeaders(label, r, { cors: want.cors, cacheable: want.cacheable && r.status === 200, https });
    if (want.allow) assert.equal(r.headers.get('allow'), want.allow, label);
    if (want.preflight) {
      assert.match(r.headers.get('access-control-allow-methods') ?? '', /POST/, label);
      for (const name of ['Authorization', 'Content-Type', 'Mcp-Protocol-Version', 'Mcp-Session-Id', 'Last-Event-ID']) {
        assert.ok((r.headers.get('access-control-allow-headers') ?? '').includes(name), `${label}: allow ${name}`);
      }
    }
    if (want.preflightRefused) assert.equal(r.headers.get('access-control-allow-headers'), null, label);
    if (r.status === 401 && path.startsWith('/mcp')) assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /, label);
  }
}

let accessToken;
test('headers: every route answers with the security headers, CORS exactly on the CORS paths', async () => {
  const { token } = await manualFlow(h);
  assert.equal(token.status, 200, token.text);
  accessToken = token.json.access_token;
  await checkTable(h.base, routeTable(accessToken));
});

test('headers: a 502 from an unreachable origin carries the security headers and CORS', async () => {
  assert.ok(accessToken, 'needs the route-table test');
  await h.stopOrigin();
  try {
    const r = await send(h.base, 'POST', '/mcp', {
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify(initializeBody()),
    });
    assert.equal(r.status, 502, r.text);
    assert.equal(JSON.parse(r.text).jsonrpc, '2.0');
    assertHeaders('POST /mcp -> 502', r, { cors: true });
  } finally {
    await h.startOrigin();
  }
});

test('headers: a misconfigured worker still sends them on every route (config-error pages and errors)', async () => {
  const broken = await startHarness({ name: 'policy-misconfigured', vars: { ACCESS_TOKEN_TTL: '1' } });
  try {
    const home = await send(broken.base, 'GET', '/');
    assert.equal(home.status, 503);
    assert.match(home.text, /ACCESS_TOKEN_TTL/);
    const rows = routeTable(null).map(([m, p, o, w]) => {
      // Everything that needs the configuration answers 503; the rest is unchanged.
      const needsConfig = !w.preflight && !w.preflightRefused && ![404, 405].includes(w.status);
      return [m, p, o, { ...w, status: needsConfig && !['/revoke', '/introspect'].includes(p) ? 503 : w.status }];
    });
    await checkTable(broken.base, rows);
  } finally {
    await broken.stop();
  }
});

test('headers: over https every route also sends Strict-Transport-Security', async () => {
  // wrangler's self-signed certificate, accepted for this loopback test only.
  const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  let tls;
  try {
    tls = await startHarness({ name: 'policy-https', protocol: 'https' });
    assert.ok(tls.base.startsWith('https://'), tls.base);
    const { token } = await manualFlow(tls);
    assert.equal(token.status, 200, token.text);
    await checkTable(tls.base, routeTable(token.json.access_token), { https: true });
  } finally {
    await tls?.stop();
    if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
  }
});
