// The security suite: one named test per attack, each asserting the exact refusal (status,
// error code, no Location / no code, nothing stored or revoked that should not be), against
// the real worker in workerd with local D1.
//
// Covered here:
//   redirect URIs  not registered; differing only in path, query, case, trailing slash, port;
//                  javascript:, data:, file:, fragment, http on a non-loopback host at DCR;
//                  no redirect on an unknown client or bad redirect URI; error redirects only to
//                  validated URIs of a client the owner approved (open redirect); dot segments,
//                  encodings, backslashes and OS-handler schemes at DCR; a backslash in a
//                  loopback redirect_uri
//   PKCE           missing, plain, wrong verifier, verifier without a stored challenge, verifier
//                  of wrong length or alphabet
//   codes          reuse (revokes what the first redemption issued), 20 concurrent redemptions
//                  (exactly one wins, proven with the TEST_CLAIM_DELAY_MS hook), expired,
//                  another client's code
//   refresh        8 concurrent refreshes with one token get one successor (the claim delay
//                  makes all of them race the claim); a copy's use after the grace window
//                  revokes the whole family
//   access tokens  alg none, another key, HS256 keyed with the public key, expired, not yet valid,
//                  wrong aud, wrong iss, truncated, inner whitespace; token in the query string;
//                  client-sent X-Gatehouse-* headers
//   owner pages    login/consent POST without or with a stale CSRF token, consent replay (also
//                  concurrent),
//                  client_name/client_uri/logo_uri markup rendered inert, framing headers on
//                  every HTML page
//   input          bodies over the limit (/token, /register), malformed and deeply nested JSON,
//                  NUL bytes and invalid UTF-8 in parameters
// Elsewhere: refresh reuse after the grace window revokes the grant (ts_client.test.mjs, which
// owns the refresh flow); refresh token of another client and revocation of another client's
// token (the revocation suite); CIMD client_id URLs (the CIMD suite).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { startHarness } from './harness.mjs';
import { Browser, approveAsOwner, fillForm, parseForms } from './owner.mjs';
import {
  LOOPBACK_REDIRECT, authorizeUrl, decodeJwt, get, initializeBody, manualFlow, mcpPost, parseChallenge,
  pkcePair, postForm, postJson, redeemCode, refresh, register,
} from './oauth.mjs';

// Short code lifetime, a short refresh grace window and the claim delay live on a second
// worker, so the main one keeps production defaults.
const CODE_TTL_S = 4;
const CLAIM_DELAY_MS = 2000;
const REFRESH_GRACE_S = 8;
// The refusal of a redemption that passed every check but lost the conditional claim
// (src/protocol/token.rs LOST_RACE).
const LOST_RACE = 'the authorization code was just redeemed by a concurrent request';

let h; // production defaults
let ht; // AUTH_CODE_TTL, REFRESH_GRACE_SECONDS and TEST_CLAIM_DELAY_MS set
before(async () => {
  h = await startHarness({ name: 'security' });
  ht = await startHarness({
    name: 'security-timing',
    vars: { AUTH_CODE_TTL: String(CODE_TTL_S), TEST_CLAIM_DELAY_MS: String(CLAIM_DELAY_MS), REFRESH_GRACE_SECONDS: String(REFRESH_GRACE_S) },
  });
});
after(async () => {
  await h?.stop();
  await ht?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const originCount = async (hh = h) => (await hh.seen()).length;

// ---- assertions ----------------------------------------------------------------------

function assertFramingHeaders(r, what) {
  assert.equal(r.headers.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`);
  assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, `${what}: CSP frame-ancestors`);
}

/** An HTML error page: no redirect, no form to continue with, framing refused. */
function assertErrorPage(r, what, status = 400) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.headers.get('location'), null, `${what}: must not redirect`);
  assert.match(r.headers.get('content-type') ?? '', /^text\/html/, `${what}: an HTML error page`);
  assert.equal(parseForms(r.text).length, 0, `${what}: the error page offers no form to continue`);
  assert.ok(!/[?&]code=/.test(r.text), `${what}: no code anywhere`);
  assertFramingHeaders(r, what);
}

/** An OAuth error response (RFC 6749 §5.2): JSON, the code, never cached. */
function assertOAuthError(r, status, code, what = '') {
  assert.equal(r.status, status, `${what} ${r.status} ${r.text.slice(0, 300)}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, `${what} JSON error body`);
  assert.equal(r.json?.error, code, `${what} ${r.text.slice(0, 300)}`);
  assert.match(r.headers.get('cache-control') ?? '', /no-store/, `${what} not cacheable`);
  assert.equal(r.json.access_token, undefined);
}

/** The redirect back to the client: an error, state and iss, no code. */
function assertErrorRedirect(r, redirectUri, { error, state }) {
  assert.equal(r.status, 303, `${r.status} ${r.text.slice(0, 300)}`);
  const u = new URL(r.headers.get('location'));
  assert.equal(`${u.origin}${u.pathname}`, redirectUri, `redirects to the validated URI: ${u.href}`);
  assert.equal(u.searchParams.get('error'), error, u.href);
  assert.equal(u.searchParams.get('state'), state, u.href);
  assert.equal(u.searchParams.get('iss'), h.base, u.href);
  assert.equal(u.searchParams.get('code'), null, u.href);
}

/** 401 invalid_token at the MCP endpoint, with the Bearer challenge. */
function assertInvalidToken(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  const { scheme, params } = parseChallenge(r.headers.get('www-authenticate'));
  assert.equal(scheme.toLowerCase(), 'bearer', what);
  assert.equal(params.error, 'invalid_token', `${what}: ${r.headers.get('www-authenticate')}`);
  assert.equal(params.resource_metadata, `${h.base}/.well-known/oauth-protected-resource/mcp`, what);
  assert.equal(r.json?.error, 'invalid_token', `${what}: ${r.text}`);
}

// ---- helpers -------------------------------------------------------------------------

function authorizeQuery(hh, clientId, overrides = {}) {
  const pkce = pkcePair();
  return {
    pkce,
    url: authorizeUrl(hh.base, {
      response_type: 'code', client_id: clientId, redirect_uri: LOOPBACK_REDIRECT, state: 'st-1',
      code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: hh.mcpUrl, ...overrides,
    }),
  };
}

async function registered(hh, metadata = {}) {
  const reg = await register(hh.base, metadata);
  assert.equal(reg.status, 201, reg.text);
  return reg.json;
}

/**
 * A client the owner has approved once (it holds a live grant): only such a client's
 * /authorize errors go back to it without a page (RFC 9700 §4.11.2).
 */
async function approvedClient(hh, metadata = {}) {
  const client = await registered(hh, metadata);
  const { url } = authorizeQuery(hh, client.client_id, { redirect_uri: client.redirect_uris[0] });
  const { location } = await approveAsOwner(url, { base: hh.base, password: hh.password });
  assert.ok(new URL(location).searchParams.get('code'), location);
  return client;
}

/** Owner signs in for a new client (the two-step way) and stops on the consent page. */
async function atConsent(hh = h, { client, browser = new Browser(hh.base) } = {}) {
  client ??= await registered(hh);
  const { url, pkce } = authorizeQuery(hh, client.client_id);
  const first = await browser.request(url);
  assert.equal(first.status, 200, first.text.slice(0, 300));
  const loginForm = parseForms(first.text).find((f) => f.inputs.some((i) => i.name === 'password'));
  let page = first; // a browser that is signed in already gets the consent page at once
  if (loginForm) {
    // Without the sign-in page's decision (a form from before it carried one): signed in, then the consent page.
    const { decision, ...signIn } = fillForm(loginForm, { password: hh.password });
    const posted = await browser.request(new URL(loginForm.action, first.url), { method: 'POST', form: signIn });
    assert.equal(posted.status, 303, posted.text.slice(0, 300));
    page = await browser.request(posted.location);
    assert.equal(page.status, 200, page.text.slice(0, 300));
  }
  const form = parseForms(page.text).find((f) => f.buttons.some((b) => b.name === 'decision'));
  assert.ok(form, `consent form on ${page.url}`);
  return { client, pkce, browser, loginPage: loginForm ? first : undefined, page, form };
}

async function postConsent(c, fields) {
  return c.browser.request(new URL(c.form.action, c.page.url), { method: 'POST', form: fields });
}

/** redeemCode, where an override of `undefined` leaves the parameter out. */
function redeem(hh, flow, overrides = {}) {
  const params = {
    grant_type: 'authorization_code', code: flow.code, redirect_uri: flow.redirectUri, client_id: flow.client.client_id,
    code_verifier: flow.pkce.verifier, resource: hh.mcpUrl, ...overrides,
  };
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  return postForm(`${hh.base}/token`, params);
}

function codeFrom(location) {
  return new URL(location).searchParams.get('code');
}

// One valid token for the token tests (control included).
let flowPromise;
const validFlow = () => (flowPromise ??= manualFlow(h));
async function validToken() {
  const { token } = await validFlow();
  assert.equal(token.status, 200, token.text);
  return token.json.access_token;
}

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const seedKey = (seed) => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(seed, 'base64url')]), format: 'der', type: 'pkcs8' });
const b64json = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
function signJwt(header, payload, key) {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${key ? sign(null, Buffer.from(input), key).toString('base64url') : ''}`;
}
const sendToken = (t, hh = h) => mcpPost(hh.mcpUrl, initializeBody(), { authorization: `Bearer ${t}` });

/** Each token must be refused with invalid_token, and none may reach the origin. */
async function refusedAtMcp(tokens) {
  const n = await originCount();
  for (const [what, t] of Object.entries(tokens)) assertInvalidToken(await sendToken(t), what);
  assert.equal(await originCount(), n, 'nothing reached the origin');
}

// ---- redirect URIs at /authorize ---------------------------------------------------------

const APP_REDIRECT = 'https://app.example/callback';
let appClient;
const app = async () => (appClient ??= await approvedClient(h, { redirect_uris: [APP_REDIRECT] }));

async function refusedRedirect(redirectUris) {
  const client = await app();
  for (const redirect_uri of redirectUris) {
    const { url } = authorizeQuery(h, client.client_id, { redirect_uri });
    assertErrorPage(await get(url, { accept: 'text/html' }), redirect_uri);
  }
  // control: the registered URI itself is accepted (the login page)
  const ok = await get(authorizeQuery(h, client.client_id, { redirect_uri: APP_REDIRECT }).url, { accept: 'text/html' });
  assert.equal(ok.status, 200, ok.text.slice(0, 300));
  assert.ok(parseForms(ok.text).some((f) => f.inputs.some((i) => i.name === 'password')), 'the registered URI reaches the login page');
}

test('redirect_uri that was never registered: error page, no redirect', () =>
  refusedRedirect(['https://evil.example/callback', 'https://app.example.evil.example/callback']));
test('redirect_uri differing only in path: error page, no redirect', () =>
  refusedRedirect(['https://app.example/callback2', 'https://app.example/callbac', 'https://app.example/callback/../callback', 'https://app.example/other']));
test('redirect_uri differing only in query: error page, no redirect', () =>
  refusedRedirect(['https://app.example/callback?next=https://evil.example', 'https://app.example/callback?']));
test('redirect_uri differing only in case: error page, no redirect', () =>
  refusedRedirect(['https://App.example/callback', 'https://app.example/Callback', 'HTTPS://app.example/callback']));
test('redirect_uri differing only by a trailing slash: error page, no redirect', () =>
  refusedRedirect(['https://app.example/callback/']));
test('redirect_uri differing only in port (non-loopback): error page, no redirect', () =>
  refusedRedirect(['https://app.example:8443/callback', 'https://app.example:443/callback']));

test('unknown client_id: error page, no redirect (even to a loopback redirect_uri)', async () => {
  const { url } = authorizeQuery(h, `gh_unknown${randomBytes(6).toString('hex')}`);
  assertErrorPage(await get(url, { accept: 'text/html' }), 'unknown client');
  const missing = authorizeQuery(h, undefined).url;
  assertErrorPage(await get(missing, { accept: 'text/html' }), 'no client_id');
});

test('error redirects only to validated URIs: bad response_type with a valid redirect 303s there with error, state, iss; with an invalid one, a page', async () => {
  const client = await app();
  const good = await get(authorizeQuery(h, client.client_id, { redirect_uri: APP_REDIRECT, response_type: 'token', state: 'keep-me' }).url);
  assertErrorRedirect(good, APP_REDIRECT, { error: 'unsupported_response_type', state: 'keep-me' });
  const bad = await get(authorizeQuery(h, client.client_id, { redirect_uri: 'https://evil.example/cb', response_type: 'token' }).url);
  assertErrorPage(bad, 'bad response_type with an unregistered redirect_uri');
  const both = await get(authorizeQuery(h, `gh_nobody${randomBytes(4).toString('hex')}`, { redirect_uri: 'https://evil.example/cb', code_challenge: undefined }).url);
  assertErrorPage(both, 'unknown client, unregistered redirect_uri, no PKCE');
});

test('open redirect (issue 15): a client the owner never approved gets its /authorize errors as a page, never a redirect to its URI', async () => {
  for (const redirect of ['https://evil.example/landing', 'http://127.0.0.1:47999/cb']) {
    const client = await registered(h, { redirect_uris: [redirect] });
    for (const overrides of [{ response_type: 'token' }, { code_challenge: undefined, code_challenge_method: undefined }, { scope: 'not-a-scope' }]) {
      const r = await get(authorizeQuery(h, client.client_id, { redirect_uri: redirect, ...overrides }).url, { accept: 'text/html' });
      assertErrorPage(r, `${redirect} ${JSON.stringify(overrides)}`);
    }
  }
});

test('loopback matching (issue 15): a backslash ends the host for the browser, so `http://127.0.0.1:N\\evil/callback` does not match `/callback`: error page', async () => {
  const client = await registered(h, { redirect_uris: ['http://127.0.0.1:33418/callback'] });
  for (const redirect_uri of [
    'http://127.0.0.1:5000\\evil/callback',
    'http://127.0.0.1\\evil/callback',
    'http://127.0.0.1:5000/evil/../callback',
    'http://127.0.0.1:5000/%2e%2e/callback',
    'http://0x7f.0.0.1:5000/callback',
  ]) {
    const r = await get(authorizeQuery(h, client.client_id, { redirect_uri }).url, { accept: 'text/html' });
    assertErrorPage(r, redirect_uri);
  }
  // control: another port of the registered URI reaches the login page
  const ok = await get(authorizeQuery(h, client.client_id, { redirect_uri: 'http://127.0.0.1:5000/callback' }).url, { accept: 'text/html' });
  assert.equal(ok.status, 200, ok.text.slice(0, 300));
});

// ---- redirect URIs at registration --------------------------------------------------------

const BAD_REGISTRATIONS = {
  'javascript: scheme': ['javascript:alert(document.domain)', 'JavaScript://app.example/%0aalert(1)'],
  'data: scheme': ['data:text/html,<script>alert(1)</script>'],
  'file: scheme': ['file:///etc/passwd'],
  fragment: ['https://app.example/callback#frag', 'https://app.example/callback#'],
  'http on a non-loopback host': ['http://app.example/callback', 'http://10.0.0.1/callback', 'http://127.0.0.2/callback'],
  // Issue 15: what a browser rewrites before navigating, so a string check would vouch for elsewhere.
  'dot segments, their encodings, backslashes or a non-normalised form': [
    'https://app.example/a/../callback', 'https://app.example/a/%2e%2e/callback', 'https://app.example/a/.%2E/callback',
    'https://app.example/a/..\\callback', 'https://app.example\\callback', 'https://app.example/a/..%2Fcallback',
    'https://App.example/callback', 'https://app.example:443/callback', 'http://127.0.0.1:1\\evil/callback',
  ],
  // Issue 15: operating-system handlers and private-use schemes that name no app (RFC 8252 §7.1).
  'an operating-system handler or a private-use scheme naming no app': [
    'search-ms:query=x&crumb=location:\\\\evil.example\\share', 'search-ms://a.b/?query=x', 'ms-msdt:/id%20PCWDiagnostic',
    'ms-officecmd:%7B%7D', 'ms-settings://a.b/x', 'smb://evil.example/share', 'myapp:callback', 'myapp://callback',
  ],
};

test('DCR accepts the private-use callbacks real clients send: Cursor\'s, VS Code\'s handler shape, and RFC 8252 reverse-domain schemes', async () => {
  for (const uri of ['cursor://anysphere.cursor-mcp/oauth/callback', 'vscode://vscode.github-authentication/did-authenticate', 'com.example.app:/oauth2redirect/example-provider']) {
    const r = await register(h.base, { redirect_uris: [uri] });
    assert.equal(r.status, 201, `${uri}: ${r.text}`);
    assert.deepEqual(r.json.redirect_uris, [uri]);
  }
});
for (const [what, uris] of Object.entries(BAD_REGISTRATIONS)) {
  test(`DCR refuses a redirect URI with ${what}: 400 invalid_redirect_uri, no client_id`, async () => {
    for (const uri of uris) {
      for (const redirect_uris of [[uri], ['https://claude.ai/api/mcp/auth_callback', uri]]) {
        const r = await register(h.base, { redirect_uris });
        assertOAuthError(r, 400, 'invalid_redirect_uri', JSON.stringify(redirect_uris));
        assert.equal(r.json.client_id, undefined);
      }
    }
  });
}

// ---- PKCE ------------------------------------------------------------------------------

test('PKCE missing at /authorize: 303 back with invalid_request (the redirect URI is valid, the client approved before), no login page', async () => {
  const client = await approvedClient(h);
  const r = await get(authorizeQuery(h, client.client_id, { code_challenge: undefined, code_challenge_method: undefined, state: 'no-pkce' }).url);
  assertErrorRedirect(r, LOOPBACK_REDIRECT, { error: 'invalid_request', state: 'no-pkce' });
  const noMethod = await get(authorizeQuery(h, client.client_id, { code_challenge_method: undefined, state: 'no-method' }).url);
  assertErrorRedirect(noMethod, LOOPBACK_REDIRECT, { error: 'invalid_request', state: 'no-method' });
});

test('PKCE plain is refused at /authorize: 303 back with invalid_request', async () => {
  const client = await approvedClient(h);
  const { verifier } = pkcePair();
  const r = await get(authorizeQuery(h, client.client_id, { code_challenge: verifier, code_challenge_method: 'plain', state: 'plain' }).url);
  assertErrorRedirect(r, LOOPBACK_REDIRECT, { error: 'invalid_request', state: 'plain' });
});

test('PKCE wrong verifier: 400 invalid_grant, and the code is not burned for its rightful holder', async () => {
  const flow = await manualFlow(h, { redeem: false });
  assertOAuthError(await redeemCode(h, flow, { code_verifier: pkcePair().verifier }), 400, 'invalid_grant');
  const ok = await redeemCode(h, flow);
  assert.equal(ok.status, 200, `the right verifier still works: ${ok.text}`);
});

test('PKCE verifier without a stored challenge: /authorize never stores a code without one, and /token refuses a code without a verifier or with the challenge as a plain verifier', async () => {
  // The first end: no challenge, no pending request, no code (the request is refused before login).
  const client = await approvedClient(h);
  const refused = await get(authorizeQuery(h, client.client_id, { code_challenge: undefined, code_challenge_method: undefined }).url);
  assertErrorRedirect(refused, LOOPBACK_REDIRECT, { error: 'invalid_request', state: 'st-1' });
  // The other end: every code has a challenge, so no verifier (or a plain-method one) can pass.
  const flow = await manualFlow(h, { redeem: false });
  assertOAuthError(await redeem(h, flow, { code_verifier: undefined }), 400, 'invalid_grant', 'no verifier');
  assertOAuthError(await redeemCode(h, flow, { code_verifier: flow.pkce.challenge }), 400, 'invalid_grant', 'challenge as plain verifier');
  assert.equal((await redeemCode(h, flow)).status, 200, 'the rightful redemption still works');
});

test('PKCE verifier of wrong length or alphabet: 400 invalid_grant', async () => {
  const flow = await manualFlow(h, { redeem: false });
  const v = flow.pkce.verifier; // 43 characters
  for (const bad of [v.slice(0, 42), `${v}${'a'.repeat(86)}`, `${v.slice(0, 42)}+`, `${v.slice(0, 42)}/`, `${v.slice(0, 42)}=`, `${v.slice(0, 21)} ${v.slice(22)}`, `${v.slice(0, 42)}é`]) {
    assertOAuthError(await redeemCode(h, flow, { code_verifier: bad }), 400, 'invalid_grant', JSON.stringify(bad));
  }
  assert.equal((await redeemCode(h, flow)).status, 200, 'the rightful redemption still works');
});

// ---- authorization codes -----------------------------------------------------------------

test('code reused: the second redemption fails with invalid_grant and revokes what the first issued (its refresh token stops working)', async () => {
  const flow = await manualFlow(h);
  assert.equal(flow.token.status, 200, flow.token.text);
  assertOAuthError(await redeemCode(h, flow), 400, 'invalid_grant', 'replay');
  assertOAuthError(await refresh(h, flow.client.client_id, flow.token.json.refresh_token), 400, 'invalid_grant', 'refresh after the replay');
});

test('code of another client: invalid_grant, the rightful client still redeems it, and the stranger\'s replay revokes nothing', async () => {
  const flow = await manualFlow(h, { redeem: false });
  const mallory = await registered(h);
  const stolen = () => redeemCode(h, flow, { client_id: mallory.client_id });
  assertOAuthError(await stolen(), 400, 'invalid_grant', 'another client');
  const ok = await redeemCode(h, flow);
  assert.equal(ok.status, 200, ok.text);
  assertOAuthError(await stolen(), 400, 'invalid_grant', 'another client, after use');
  const r = await refresh(h, flow.client.client_id, ok.json.refresh_token);
  assert.equal(r.status, 200, `the rightful grant is intact: ${r.text}`);
});

test(`the same code redeemed by 20 concurrent requests: exactly one succeeds, every time (all 20 pass the read check: the claim is held back ${CLAIM_DELAY_MS} ms)`, async () => {
  for (let round = 1; round <= 3; round++) {
    const flow = await manualFlow(ht, { redeem: false });
    const results = await Promise.all(Array.from({ length: 20 }, () => redeemCode(ht, flow)));
    const statuses = results.map((r) => r.status).join(',');
    assert.equal(results.filter((r) => r.status === 200).length, 1, `round ${round}: statuses ${statuses}`);
    for (const r of results.filter((x) => x.status !== 200)) {
      assertOAuthError(r, 400, 'invalid_grant', `round ${round}`);
      // Proof that the refusal came from the conditional claim, not from the read check.
      assert.equal(r.json.error_description, LOST_RACE, `round ${round}: ${r.text}`);
    }
  }
});

test(`expired code (AUTH_CODE_TTL=${CODE_TTL_S} s): invalid_grant after the lifetime, and nothing is issued`, async () => {
  const flow = await manualFlow(ht, { redeem: false });
  await sleep((CODE_TTL_S + 1) * 1000);
  const r = await redeemCode(ht, flow);
  assertOAuthError(r, 400, 'invalid_grant');
  assert.match(r.json.error_description, /expired/);
});

test(`refresh families (issue 15): 8 concurrent refreshes with one token, all past the read checks before any claim, get its one successor; the copy's use after the window (${REFRESH_GRACE_S} s here) revokes the whole grant`, async () => {
  const flow = await manualFlow(ht);
  assert.equal(flow.token.status, 200, flow.token.text);
  const { client_id } = flow.client;
  const t1 = flow.token.json.refresh_token;
  const sha = (t) => `'${createHash('sha256').update(t).digest('base64url')}'`;
  // A host refreshing in parallel, or a thief racing it. With the claim delay every request
  // reads the token unused and waits; one claim wins, the others lose it and must answer with
  // the successor the winner recorded, not mint their own.
  const at = Date.now();
  const answers = await Promise.all(Array.from({ length: 8 }, () => refresh(ht, client_id, t1)));
  for (const a of answers) assert.equal(a.status, 200, a.text);
  const successors = new Set(answers.map((a) => a.json.refresh_token));
  assert.equal(successors.size, 1, `one successor for every concurrent use, not ${successors.size} independent tokens`);
  const [t2] = successors;
  assert.notEqual(t2, t1);
  // A retry after a lost answer, inside the window: the same successor again.
  const retry = await refresh(ht, client_id, t1);
  assert.ok(Date.now() - at < REFRESH_GRACE_S * 1000, 'the retry was sent inside the grace window');
  assert.equal(retry.json?.refresh_token, t2, retry.text);
  const rows = await ht.sql(`SELECT token_hash FROM refresh_tokens WHERE grant_id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = ${sha(t1)})`);
  assert.equal(rows.length, 2, `the family holds two members, no fork: ${JSON.stringify(rows)}`);

  // One holder moves on; the other (the copy) comes back with t2 after the window.
  const next = await refresh(ht, client_id, t2);
  assert.equal(next.status, 200, next.text);
  const t3 = next.json.refresh_token;
  const movedOn = Date.now(); // t2 was claimed before this
  await sleep((REFRESH_GRACE_S + 1.5) * 1000 - (Date.now() - movedOn));
  assertOAuthError(await refresh(ht, client_id, t2), 400, 'invalid_grant', 'the copy, after the window');
  assertOAuthError(await refresh(ht, client_id, t3), 400, 'invalid_grant', 'the whole family is revoked, newest member included');
  assertOAuthError(await refresh(ht, client_id, t1), 400, 'invalid_grant', 'an older retired member');
  const [grant] = await ht.sql(`SELECT revoked_at FROM grants WHERE grant_id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = ${sha(t1)})`);
  assert.ok(grant.revoked_at, 'the grant is revoked');
});

// ---- access tokens at /mcp ------------------------------------------------------------------

async function tokenParts() {
  const token = await validToken();
  const { header, payload } = decodeJwt(token);
  return { token, header, payload, key: seedKey(h.signingKey), now: Math.floor(Date.now() / 1000) };
}

test('control: the genuine claims re-signed with the real key are accepted (so each refusal below is about its change)', async () => {
  const { header, payload, key } = await tokenParts();
  const r = await sendToken(signJwt(header, payload, key));
  assert.equal(r.status, 200, `${r.status} ${r.text.slice(0, 200)}`);
});

test('JWT with alg none: 401 invalid_token, nothing reaches the origin', async () => {
  const { header, payload } = await tokenParts();
  await refusedAtMcp({
    none: signJwt({ ...header, alg: 'none' }, payload, null),
    None: signJwt({ ...header, alg: 'None' }, payload, null),
    'none with the original signature': `${signJwt({ ...header, alg: 'none' }, payload, null)}${(await validToken()).split('.')[2]}`,
  });
});

test('JWT signed by another key: 401 invalid_token, nothing reaches the origin', async () => {
  const { header, payload } = await tokenParts();
  const other = seedKey(randomBytes(32).toString('base64url'));
  const { kid, ...noKid } = header;
  await refusedAtMcp({ 'same kid': signJwt(header, payload, other), 'no kid': signJwt(noKid, payload, other) });
});

test('JWT HS256-signed with the public key as the HMAC secret: 401 invalid_token, nothing reaches the origin', async () => {
  const { header, payload } = await tokenParts();
  const jwk = (await get(`${h.base}/.well-known/jwks.json`)).json.keys[0];
  const hs = (secret) => {
    const input = `${b64json({ ...header, alg: 'HS256' })}.${b64json(payload)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  await refusedAtMcp({
    'key = JWKS x bytes': hs(Buffer.from(jwk.x, 'base64url')),
    'key = JWKS x string': hs(jwk.x),
    'key = JWK JSON': hs(JSON.stringify(jwk)),
  });
});

test('JWT expired: 401 invalid_token, nothing reaches the origin', async () => {
  const { header, payload, key, now } = await tokenParts();
  await refusedAtMcp({
    'an hour ago': signJwt(header, { ...payload, iat: now - 7200, exp: now - 3600 }, key),
    'no exp': signJwt(header, (({ exp, ...p }) => p)(payload), key),
  });
});

test('JWT not yet valid (nbf in the future): 401 invalid_token, nothing reaches the origin', async () => {
  const { header, payload, key, now } = await tokenParts();
  await refusedAtMcp({
    'nbf in an hour': signJwt(header, { ...payload, nbf: now + 3600 }, key),
    'iat in an hour': signJwt(header, { ...payload, iat: now + 3600, exp: now + 7200 }, key),
  });
});

test('JWT with the wrong aud: 401 invalid_token, nothing reaches the origin', async () => {
  const { header, payload, key } = await tokenParts();
  await refusedAtMcp({
    'another path': signJwt(header, { ...payload, aud: `${h.base}/other` }, key),
    'another host': signJwt(header, { ...payload, aud: 'https://evil.example/mcp' }, key),
    'a list with another resource': signJwt(header, { ...payload, aud: ['https://evil.example/mcp'] }, key),
  });
});

test('JWT with the wrong iss: 401 invalid_token, nothing reaches the origin', async () => {
  const { header, payload, key } = await tokenParts();
  await refusedAtMcp({
    'another issuer': signJwt(header, { ...payload, iss: 'https://evil.example' }, key),
    'issuer with a trailing slash': signJwt(header, { ...payload, iss: `${h.base}/` }, key),
  });
});

test('JWT truncated: 401 invalid_token, nothing reaches the origin', async () => {
  const { token } = await tokenParts();
  const [a, b, c] = token.split('.');
  await refusedAtMcp({
    'last character cut': token.slice(0, -1),
    'signature cut in half': `${a}.${b}.${c.slice(0, 43)}`,
    'no signature': `${a}.${b}.`,
    'two segments': `${a}.${b}`,
    'header only': a,
  });
});

test('JWT with extra whitespace inside: 401 invalid_token, nothing reaches the origin', async () => {
  const { token } = await tokenParts();
  const [a, b, c] = token.split('.');
  await refusedAtMcp({
    'space before the signature': `${a}.${b}. ${c}`,
    'space inside the payload': `${a}.${b.slice(0, 10)} ${b.slice(10)}.${c}`,
    'tab inside the signature': `${a}.${b}.${c.slice(0, 20)}\t${c.slice(20)}`,
  });
});

test('a valid token in the query string (access_token=) is ignored: 401, nothing reaches the origin', async () => {
  const token = await validToken();
  const n = await originCount();
  const url = `${h.mcpUrl}?access_token=${encodeURIComponent(token)}`;
  for (const r of [await get(url, { accept: 'text/event-stream' }), await mcpPost(url, initializeBody())]) {
    assert.equal(r.status, 401, r.text);
    assert.ok(!/error="invalid_token"/.test(r.headers.get('www-authenticate') ?? ''), 'treated as no token at all');
  }
  assert.equal(await originCount(), n);
});

test('client-sent X-Gatehouse-* headers are stripped before the origin; the gateway sets its own from the token', async () => {
  const token = await validToken();
  const { client } = await validFlow();
  const { sub, scope } = decodeJwt(token).payload;
  const before = await originCount();
  const r = await mcpPost(h.mcpUrl, initializeBody(), {
    authorization: `Bearer ${token}`,
    'x-gatehouse-user': 'attacker@evil.example',
    'x-gatehouse-client': 'evil-client',
    'x-gatehouse-scope': 'admin',
    'x-gatehouse-admin': 'true',
    cookie: 'session=stolen',
  });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  const fresh = (await h.seen()).slice(before);
  assert.equal(fresh.length, 1, 'the request reached the origin once');
  const seen = fresh[0].headers;
  assert.equal(seen['x-gatehouse-user'], sub);
  assert.equal(seen['x-gatehouse-client'], client.client_id);
  assert.equal(seen['x-gatehouse-scope'], scope);
  assert.equal(seen['x-gatehouse-admin'], undefined, 'unknown X-Gatehouse-* headers are dropped');
  assert.equal(seen.authorization, undefined);
  assert.equal(seen.cookie, undefined);
  assert.ok(!JSON.stringify(seen).includes(token));
});

// ---- owner pages ----------------------------------------------------------------------

test('login POST without a CSRF token: 403 page, no session cookie; with it the login proceeds', async () => {
  const client = await registered(h);
  const browser = new Browser(h.base);
  const login = await browser.request(authorizeQuery(h, client.client_id).url);
  const form = parseForms(login.text).find((f) => f.inputs.some((i) => i.name === 'password'));
  const { csrf, ...noCsrf } = fillForm(form, { password: h.password });
  assert.ok(csrf, 'the login form carries a CSRF token');
  const target = new URL(form.action, login.url);
  const r = await browser.request(target, { method: 'POST', form: noCsrf });
  assertErrorPage(r, 'login without CSRF', 403);
  assert.ok(!(r.headers.get('set-cookie') ?? '').includes('session'), 'no session cookie');
  const ok = await browser.request(target, { method: 'POST', form: { ...noCsrf, csrf } });
  assert.equal(ok.status, 303, ok.text.slice(0, 300));
});

test('consent POST without a CSRF token: 403 page, no code; the request is still pending for the real form', async () => {
  const c = await atConsent();
  const { csrf, ...noCsrf } = fillForm(c.form, { decision: 'approve' });
  assertErrorPage(await postConsent(c, noCsrf), 'consent without CSRF', 403);
  assertErrorPage(await postConsent(c, { ...noCsrf, csrf: '' }), 'consent with an empty CSRF', 403);
  const ok = await postConsent(c, { ...noCsrf, csrf });
  assert.equal(ok.status, 303, ok.text.slice(0, 300));
  assert.ok(codeFrom(ok.location), ok.location);
});

test('consent POST with a stale CSRF token (another request\'s, or altered): 403 page, no code', async () => {
  const browser = new Browser(h.base);
  const first = await atConsent(h, { browser });
  const second = await atConsent(h, { browser });
  const fields = fillForm(second.form, { decision: 'approve' });
  assert.notEqual(first.form.fields.csrf, fields.csrf);
  assertErrorPage(await postConsent(second, { ...fields, csrf: first.form.fields.csrf }), 'CSRF of another request', 403);
  const flipped = `${fields.csrf.slice(0, -1)}${fields.csrf.endsWith('A') ? 'B' : 'A'}`;
  assertErrorPage(await postConsent(second, { ...fields, csrf: flipped }), 'altered CSRF', 403);
  const ok = await postConsent(second, fields);
  assert.equal(ok.status, 303, ok.text.slice(0, 300));
  assert.ok(codeFrom(ok.location), ok.location);
});

test('consent replay: the same approved form POSTed again shows an expired page, issues no second code; the first code still works', async () => {
  const c = await atConsent();
  const fields = fillForm(c.form, { decision: 'approve' });
  const first = await postConsent(c, fields);
  assert.equal(first.status, 303, first.text.slice(0, 300));
  const code = codeFrom(first.location);
  assert.ok(code);
  for (const decision of ['approve', 'deny']) {
    assertErrorPage(await postConsent(c, { ...fields, decision }), `replay (${decision})`);
  }
  const t = await redeemCode(h, { client: c.client, code, pkce: c.pkce, redirectUri: LOOPBACK_REDIRECT });
  assert.equal(t.status, 200, t.text);
});

test(`consent replayed concurrently: of 10 simultaneous POSTs of one approved form, exactly one issues a code (claim held back ${CLAIM_DELAY_MS} ms)`, async () => {
  const c = await atConsent(ht);
  const fields = fillForm(c.form, { decision: 'approve' });
  const results = await Promise.all(Array.from({ length: 10 }, () => postConsent(c, fields)));
  const codes = results.filter((r) => r.status === 303).map((r) => codeFrom(r.location));
  assert.equal(codes.length, 1, `statuses: ${results.map((r) => r.status).join(',')}`);
  assert.ok(codes[0]);
  for (const r of results.filter((x) => x.status !== 303)) assertErrorPage(r, 'concurrent replay');
});

const ALLOWED_TAGS = new Set(['html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'div', 'p', 'strong', 'span', 'code', 'form', 'input', 'label', 'button', 'br']);
const ALLOWED_ATTRS = new Set(['lang', 'charset', 'name', 'content', 'class', 'role', 'method', 'action', 'type', 'value', 'autocomplete', 'required', 'autofocus']);

/** Only Gatehouse's own markup: known tags and attributes (no script, no event handlers, no src/href). */
function assertInert(html, what) {
  const body = html.replace(/<style>[\s\S]*?<\/style>/, '');
  for (const m of body.matchAll(/<\s*\/?\s*([a-zA-Z][\w-]*)([^>]*)>/g)) {
    assert.ok(ALLOWED_TAGS.has(m[1].toLowerCase()), `${what}: live <${m[1]}> tag`);
    for (const a of m[2].matchAll(/([^\s"'=\/]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?/g)) {
      assert.ok(ALLOWED_ATTRS.has(a[1].toLowerCase()), `${what}: attribute ${a[1]} in <${m[1]}${m[2]}>`);
    }
  }
  for (const f of parseForms(html)) assert.match(f.action, /^\/(login|consent)$/, `${what}: form action`);
}

test('client_name, client_uri and logo_uri with HTML/script are rendered inert on the login and consent pages', async () => {
  const name = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';
  const client = await registered(h, {
    client_name: name,
    client_uri: 'https://evil.example/"><script>alert(3)</script>',
    logo_uri: 'https://evil.example/logo.png"onerror="alert(4)',
  });
  assert.equal(client.client_name, name, 'the name is stored as given');
  const c = await atConsent(h, { client });
  for (const [what, page] of [['login page', c.loginPage], ['consent page', c.page]]) {
    assertInert(page.text, what);
    for (const part of ['&lt;script&gt;alert(1)', '&lt;img src=x onerror=alert(2)&gt;']) {
      assert.ok(page.text.includes(part), `${what}: the name is shown, escaped (${part})`);
    }
    assert.ok(page.text.includes('unverified'), `${what}: the name is marked unverified`);
    assert.ok(page.text.includes('<strong>127.0.0.1</strong>'), `${what}: the redirect host is shown`);
    assert.ok(!page.text.includes('evil.example'), `${what}: client_uri and logo_uri are not shown at all`);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/, `${what}: no script may run even if markup slipped through`);
    assert.ok(!/script-src/.test(csp), `${what}: no script source is allowed`);
  }
});

test('framing is refused on every HTML page: home, login, consent, and error pages', async () => {
  const c = await atConsent();
  const pages = {
    home: await get(`${h.base}/`, { accept: 'text/html' }),
    login: c.loginPage,
    consent: c.page,
    'authorize error page': await get(authorizeQuery(h, 'gh_nobody').url),
    'consent error page (no cookie)': await postForm(`${h.base}/consent`, { request: 'ar_x', csrf: 'x', decision: 'approve' }),
    'login error page (expired request)': await postForm(`${h.base}/login`, { request: 'ar_x', csrf: 'x', password: 'x' }, { cookie: c.browser.jar.header() }),
    'consent page for an unknown request': await get(`${h.base}/consent?request=ar_nothing`, { cookie: c.browser.jar.header() }),
  };
  for (const [what, r] of Object.entries(pages)) {
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
    assertFramingHeaders(r, what);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', what);
    assert.equal(r.headers.get('access-control-allow-origin'), null, `${what}: no CORS`);
  }
  // The login page's browser cookie is locked down too.
  const cookie = c.loginPage.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^__Host-gatehouse-browser=/);
  for (const attr of ['Secure', 'HttpOnly', 'SameSite=Lax', 'Path=/']) assert.ok(cookie.includes(attr), `${attr} in ${cookie}`);
});

// ---- request bodies and parameters ------------------------------------------------------------

const MAX_BODY = 64 * 1024;

/** POSTs `body` with a declared Content-Length, and again chunked (no length). */
async function postBoth(url, contentType, body) {
  const plain = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(10_000) });
  const chunked = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new ReadableStream({
      start(ctl) {
        const bytes = Buffer.from(body);
        for (let i = 0; i < bytes.length; i += 8192) ctl.enqueue(bytes.subarray(i, i + 8192));
        ctl.close();
      },
    }),
    duplex: 'half',
    signal: AbortSignal.timeout(10_000),
  });
  const read = async (r) => {
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, text, json };
  };
  return { plain: await read(plain), chunked: await read(chunked) };
}

test('request body over the limit at /token: 413 OAuth JSON (declared length and chunked)', async () => {
  const body = `grant_type=authorization_code&code=${'a'.repeat(MAX_BODY)}`;
  const { plain, chunked } = await postBoth(`${h.base}/token`, 'application/x-www-form-urlencoded', body);
  assertOAuthError(plain, 413, 'invalid_request', 'declared length');
  assertOAuthError(chunked, 413, 'invalid_request', 'chunked');
});

test('request body over the limit at /register: 413 OAuth JSON (declared length and chunked)', async () => {
  const body = JSON.stringify({ redirect_uris: [LOOPBACK_REDIRECT], client_name: 'x', padding: 'p'.repeat(MAX_BODY) });
  const { plain, chunked } = await postBoth(`${h.base}/register`, 'application/json', body);
  assertOAuthError(plain, 413, 'invalid_request', 'declared length');
  assertOAuthError(chunked, 413, 'invalid_request', 'chunked');
});

test('malformed JSON at /register: 400 invalid_client_metadata', async () => {
  for (const body of ['{"redirect_uris": ["http://127.0.0.1/cb"],', '', 'null', '[]', '"x"', '{"redirect_uris": ["http://127.0.0.1/cb"]} trailing', "{'redirect_uris': []}"]) {
    assertOAuthError(await postJson(`${h.base}/register`, body), 400, 'invalid_client_metadata', JSON.stringify(body));
  }
});

test('deeply nested JSON at /register: 400 invalid_client_metadata, not a crash', async () => {
  const depth = 20_000;
  for (const [what, body] of [
    ['arrays', `{"redirect_uris":["${LOOPBACK_REDIRECT}"],"x":${'['.repeat(depth)}${']'.repeat(depth)}}`],
    ['objects', `{"redirect_uris":["${LOOPBACK_REDIRECT}"],"x":${'{"a":'.repeat(depth / 2)}1${'}'.repeat(depth / 2)}}`],
  ]) {
    assertOAuthError(await postJson(`${h.base}/register`, body), 400, 'invalid_client_metadata', what);
  }
  const ok = await register(h.base);
  assert.equal(ok.status, 201, 'the worker still serves registrations');
});

test('NUL bytes and invalid UTF-8 in /authorize parameters: error page, no redirect', async () => {
  const client = await registered(h);
  for (const [what, extra] of [['NUL in state', 'state=a%00b'], ['invalid UTF-8 in state', 'state=%ff%fe'], ['NUL in redirect_uri', `redirect_uri=${encodeURIComponent(LOOPBACK_REDIRECT)}%00`]]) {
    const { pkce } = authorizeQuery(h, client.client_id);
    const base = `response_type=code&client_id=${client.client_id}&code_challenge=${pkce.challenge}&code_challenge_method=S256`;
    const q = extra.startsWith('redirect_uri') ? `${base}&${extra}` : `${base}&redirect_uri=${encodeURIComponent(LOOPBACK_REDIRECT)}&${extra}`;
    assertErrorPage(await get(`${h.base}/authorize?${q}`, { accept: 'text/html' }), what);
  }
});

test('NUL bytes and invalid UTF-8 in /token and /register parameters: 400 OAuth JSON, nothing issued', async () => {
  const flow = await manualFlow(h, { redeem: false });
  const form = (code) => `grant_type=authorization_code&client_id=${flow.client.client_id}&redirect_uri=${encodeURIComponent(LOOPBACK_REDIRECT)}&code_verifier=${flow.pkce.verifier}&code=${code}`;
  const send = (body) => fetch(`${h.base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal: AbortSignal.timeout(10_000) })
    .then(async (r) => ({ status: r.status, headers: r.headers, text: await r.clone().text(), json: await r.json().catch(() => undefined) }));
  const cases = {
    'NUL in the code (percent-encoded)': form(`${flow.code}%00`),
    'invalid UTF-8 in the code (percent-encoded)': form(`${flow.code}%ff`),
    'raw NUL byte': Buffer.concat([Buffer.from(form(flow.code)), Buffer.from([0])]),
    'raw invalid UTF-8': Buffer.concat([Buffer.from(form(flow.code)), Buffer.from('&x='), Buffer.from([0xc3, 0x28])]),
  };
  for (const [what, body] of Object.entries(cases)) assertOAuthError(await send(body), 400, 'invalid_request', what);
  assert.equal((await redeemCode(h, flow)).status, 200, 'the code was not consumed by the refused requests');

  const reg = (body) => postJson(`${h.base}/register`, body);
  assertOAuthError(await reg(JSON.stringify({ redirect_uris: [`${LOOPBACK_REDIRECT}\u0000`] })), 400, 'invalid_redirect_uri', 'NUL in a redirect URI');
  assertOAuthError(await reg(JSON.stringify({ redirect_uris: [LOOPBACK_REDIRECT], client_name: 'a\u0000b' })), 400, 'invalid_client_metadata', 'NUL in client_name');
  const rawBad = await fetch(`${h.base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat([Buffer.from(`{"redirect_uris":["${LOOPBACK_REDIRECT}"],"client_name":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), signal: AbortSignal.timeout(10_000) });
  const rawText = await rawBad.text();
  assert.equal(rawBad.status, 400, rawText);
  assert.equal(JSON.parse(rawText).error, 'invalid_client_metadata', 'raw invalid UTF-8 in the JSON body');
});
