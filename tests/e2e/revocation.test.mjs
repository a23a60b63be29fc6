// Revocation (RFC 7009), introspection (RFC 7662), refresh-token bindings and
// insufficient_scope, end to end in workerd with local D1. Two workers: one with
// REVOCATION_CHECK_SECONDS=1 and SCOPES="mcp extra" for most tests, and one with the
// defaults to show that the default bound (10 s) holds too.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startHarness } from './harness.mjs';
import { approveAsOwner } from './owner.mjs';
import {
  LOOPBACK_REDIRECT, authorizeUrl, decodeJwt, get, initializeBody, manualFlow, mcpPost, parseChallenge, pkcePair,
  postForm, refresh, register,
} from './oauth.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bearer = (token) => ({ authorization: `Bearer ${token}` });
const basic = (id, secret) => ({
  authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
});

/** A POST to /mcp with the token; the status (and the response). */
const mcp = (h, token) => mcpPost(h.mcpUrl, initializeBody(), bearer(token));

/** The whole flow for a confidential client; { client, token, auth(params) → [params, headers] }. */
async function confidentialFlow(h, method = 'client_secret_basic') {
  const reg = await register(h.base, { token_endpoint_auth_method: method });
  assert.equal(reg.status, 201, reg.text);
  const client = reg.json;
  assert.ok(client.client_secret, 'a secret is issued');
  const pkce = pkcePair();
  const { location } = await approveAsOwner(
    authorizeUrl(h.base, {
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: LOOPBACK_REDIRECT,
      state: randomBytes(8).toString('base64url'),
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      resource: h.mcpUrl,
    }),
    { base: h.base, password: h.password },
  );
  const code = new URL(location).searchParams.get('code');
  const auth = (params) =>
    method === 'client_secret_basic'
      ? [params, basic(client.client_id, client.client_secret)]
      : [{ ...params, client_id: client.client_id, client_secret: client.client_secret }, {}];
  const token = await postForm(
    `${h.base}/token`,
    ...auth({ grant_type: 'authorization_code', code, redirect_uri: LOOPBACK_REDIRECT, code_verifier: pkce.verifier, resource: h.mcpUrl }),
  );
  assert.equal(token.status, 200, token.text);
  return { client, token: token.json, auth };
}

/** A public client's flow with tokens checked; { client, access, refreshToken }. */
async function publicFlow(h) {
  const f = await manualFlow(h);
  assert.equal(f.token.status, 200, f.token.text);
  return { client: f.client, access: f.token.json.access_token, refreshToken: f.token.json.refresh_token };
}

const revoke = (h, params, headers) => postForm(`${h.base}/revoke`, params, headers);
const introspect = (h, params, headers) => postForm(`${h.base}/introspect`, params, headers);

/**
 * Polls /mcp with `token` until it is refused with 401, for at most `limitMs`.
 * Returns { delayMs, polls, res } or null when the limit passed without a 401.
 */
async function pollUntilRefused(h, token, since, limitMs, statusBefore = 200) {
  let polls = 0;
  while (Date.now() - since < limitMs) {
    polls++;
    const res = await mcp(h, token);
    if (res.status === 401) return { delayMs: Date.now() - since, polls, res };
    assert.equal(res.status, statusBefore, `until revocation takes effect the token is answered as before: ${res.text}`);
    await sleep(100);
  }
  return null;
}

function assertInvalidTokenChallenge(h, res) {
  assert.equal(res.status, 401, res.text);
  const { scheme, params } = parseChallenge(res.headers.get('www-authenticate'));
  assert.equal(scheme, 'Bearer');
  assert.equal(params.error, 'invalid_token');
  assert.equal(params.resource_metadata, `${h.base}/.well-known/oauth-protected-resource/mcp`);
  assert.equal(res.json?.error, 'invalid_token');
}

describe('with REVOCATION_CHECK_SECONDS=1 and SCOPES="mcp extra"', () => {
  const CHECK_SECONDS = 1;
  let h;
  before(async () => {
    h = await startHarness({ name: 'revocation', vars: { REVOCATION_CHECK_SECONDS: String(CHECK_SECONDS), SCOPES: 'mcp extra' } });
  });
  after(async () => {
    await h?.stop();
  });

  test('metadata advertises the revocation and introspection endpoints and their auth methods', async () => {
    const m = (await get(`${h.base}/.well-known/oauth-authorization-server`)).json;
    assert.equal(m.revocation_endpoint, `${h.base}/revoke`);
    assert.deepEqual(m.revocation_endpoint_auth_methods_supported, ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt']);
    assert.equal(m.introspection_endpoint, `${h.base}/introspect`);
    assert.deepEqual(m.introspection_endpoint_auth_methods_supported, ['client_secret_post', 'client_secret_basic', 'private_key_jwt']);
  });

  test("a revoked grant's access token is refused at /mcp within REVOCATION_CHECK_SECONDS", async () => {
    const { client, access, refreshToken } = await publicFlow(h);
    assert.equal((await mcp(h, access)).status, 200, 'the token works before revocation');
    const t0 = Date.now();
    const r = await revoke(h, { client_id: client.client_id, token: refreshToken, token_type_hint: 'refresh_token' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const limitMs = CHECK_SECONDS * 1000 + 5_000; // the bound plus request latency on a loaded machine
    const seen = await pollUntilRefused(h, access, t0, limitMs);
    assert.ok(seen, `the access token still worked ${limitMs} ms after revocation`);
    console.log(`# REVOCATION_CHECK_SECONDS=${CHECK_SECONDS}: refused ${seen.delayMs} ms after /revoke was sent (${seen.polls} polls)`);
    assertInvalidTokenChallenge(h, seen.res);
    const again = await refresh(h, client.client_id, refreshToken);
    assert.equal(again.json?.error, 'invalid_grant', 'the refresh token is revoked at once');
  });

  test('revoking an access token revokes its grant: refresh and /mcp refused', async () => {
    const { client, access, refreshToken } = await publicFlow(h);
    // The hint names the wrong kind: it is only a hint.
    const r = await revoke(h, { client_id: client.client_id, token: access, token_type_hint: 'refresh_token' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await refresh(h, client.client_id, refreshToken)).json?.error, 'invalid_grant');
    const seen = await pollUntilRefused(h, access, Date.now(), CHECK_SECONDS * 1000 + 5_000);
    assert.ok(seen, 'the revoked access token was still accepted');
  });

  test("revocation of another client's token has no effect", async () => {
    const victim = await publicFlow(h);
    const attacker = await publicFlow(h);
    for (const token of [victim.refreshToken, victim.access]) {
      for (const hint of [undefined, 'access_token', 'refresh_token']) {
        const params = { client_id: attacker.client.client_id, token, ...(hint ? { token_type_hint: hint } : {}) };
        const r = await revoke(h, params);
        assert.equal(r.status, 200, `RFC 7009 §2.2: 200 reveals nothing (${r.text})`);
      }
    }
    // Wait past the check interval, then the victim's tokens must still work everywhere.
    await sleep(CHECK_SECONDS * 1000 + 500);
    assert.equal((await mcp(h, victim.access)).status, 200, "the victim's access token still works");
    const rr = await refresh(h, victim.client.client_id, victim.refreshToken);
    assert.equal(rr.status, 200, `the victim's refresh token still works: ${rr.text}`);
    // And the attacker's own grant is untouched too.
    assert.equal((await mcp(h, attacker.access)).status, 200);
  });

  test('revocation of an unknown or malformed token is 200 and changes nothing', async () => {
    const { client, access } = await publicFlow(h);
    for (const token of ['no-such-token', 'a.b.c', `${access}x`]) {
      const r = await revoke(h, { client_id: client.client_id, token });
      assert.equal(r.status, 200, `${token}: ${r.text}`);
    }
    await sleep(CHECK_SECONDS * 1000 + 500);
    assert.equal((await mcp(h, access)).status, 200);
  });

  test('revocation errors: no client is 401 invalid_client, unknown client 401, no token 400, JSON body 400', async () => {
    const { client, refreshToken } = await publicFlow(h);
    let r = await revoke(h, { token: refreshToken });
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], r.text);
    r = await revoke(h, { client_id: 'gh_not_registered', token: refreshToken });
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], r.text);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic /);
    r = await revoke(h, { client_id: client.client_id });
    assert.deepEqual([r.status, r.json?.error], [400, 'invalid_request'], r.text);
    const json = await fetch(`${h.base}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: client.client_id, token: refreshToken }),
    });
    assert.equal(json.status, 400);
    assert.equal((await json.json()).error, 'invalid_request');
    r = await get(`${h.base}/revoke`);
    assert.equal(r.status, 405);
    // None of that revoked anything.
    assert.equal((await refresh(h, client.client_id, refreshToken)).status, 200);
  });

  test('a confidential client revokes with client_secret_basic; a wrong secret is 401 and revokes nothing', async () => {
    const { client, token } = await confidentialFlow(h);
    let r = await revoke(h, { token: token.refresh_token }, basic(client.client_id, 'wrong-secret'));
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], r.text);
    r = await revoke(h, { client_id: client.client_id, token: token.refresh_token }); // no secret
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], r.text);
    let i = await introspect(h, { token: token.refresh_token }, basic(client.client_id, client.client_secret));
    assert.equal(i.json?.active, true, 'failed revocations changed nothing');
    r = await revoke(h, { token: token.refresh_token }, basic(client.client_id, client.client_secret));
    assert.equal(r.status, 200, r.text);
    i = await introspect(h, { token: token.refresh_token }, basic(client.client_id, client.client_secret));
    assert.deepEqual(i.json, { active: false });
  });

  test('introspection by a public client is refused with 401', async () => {
    const { client, access } = await publicFlow(h);
    let r = await introspect(h, { client_id: client.client_id, token: access });
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], r.text);
    r = await introspect(h, { client_id: client.client_id, client_secret: 'invented', token: access });
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], r.text);
  });

  test('introspection without client authentication is refused with 401', async () => {
    const { access } = await publicFlow(h);
    let r = await introspect(h, { token: access });
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], r.text);
    r = await introspect(h, { token: access }, bearer(access));
    assert.deepEqual([r.status, r.json?.error], [401, 'invalid_client'], 'a bearer token is not client authentication');
    assert.equal(r.json?.active, undefined);
  });

  test("introspection describes the caller's own access and refresh tokens", async () => {
    const { client, token } = await confidentialFlow(h);
    const auth = basic(client.client_id, client.client_secret);
    const a = await introspect(h, { token: token.access_token, token_type_hint: 'access_token' }, auth);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.headers.get('cache-control'), 'no-store');
    const claims = decodeJwt(token.access_token).payload;
    assert.deepEqual(a.json, {
      active: true,
      scope: 'extra mcp',
      client_id: client.client_id,
      sub: claims.sub,
      aud: h.mcpUrl,
      iss: h.base,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      token_type: 'Bearer',
    });
    // Refresh tokens are introspectable too.
    const rt = await introspect(h, { token: token.refresh_token }, auth);
    assert.equal(rt.json?.active, true, rt.text);
    assert.equal(rt.json.client_id, client.client_id);
    assert.equal(rt.json.scope, 'extra mcp');
    assert.ok(rt.json.exp > Date.now() / 1000);
  });

  test('introspection with client_secret_post works; the wrong method for the client is 401', async () => {
    const post = await confidentialFlow(h, 'client_secret_post');
    const r = await introspect(h, ...post.auth({ token: post.token.access_token }));
    assert.equal(r.json?.active, true, r.text);
    assert.equal(r.json.client_id, post.client.client_id);
    const viaBasic = await introspect(h, { token: post.token.access_token }, basic(post.client.client_id, post.client.client_secret));
    assert.deepEqual([viaBasic.status, viaBasic.json?.error], [401, 'invalid_client'], 'a client uses the method it registered');
  });

  test("introspection of another client's token is inactive", async () => {
    const caller = await confidentialFlow(h);
    const other = await confidentialFlow(h);
    const pub = await publicFlow(h);
    const auth = basic(caller.client.client_id, caller.client.client_secret);
    for (const token of [other.token.access_token, other.token.refresh_token, pub.access, pub.refreshToken, 'garbage']) {
      const r = await introspect(h, { token }, auth);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { active: false });
    }
  });

  test('introspection after revocation is inactive for both tokens of the grant', async () => {
    const { client, token } = await confidentialFlow(h);
    const auth = basic(client.client_id, client.client_secret);
    assert.equal((await revoke(h, { token: token.access_token }, auth)).status, 200);
    for (const t of [token.access_token, token.refresh_token]) {
      assert.deepEqual((await introspect(h, { token: t }, auth)).json, { active: false });
    }
  });

  test('refresh token of another client is refused', async () => {
    const victim = await publicFlow(h);
    const attacker = await publicFlow(h);
    const r = await refresh(h, attacker.client.client_id, victim.refreshToken);
    assert.deepEqual([r.status, r.json?.error], [400, 'invalid_grant'], r.text);
    assert.equal((await refresh(h, victim.client.client_id, victim.refreshToken)).status, 200, 'and it harmed nothing');
  });

  test('refresh with a scope wider than the grant is refused with invalid_scope', async () => {
    const { client, refreshToken } = await publicFlow(h);
    const params = { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id };
    const r = await postForm(`${h.base}/token`, { ...params, scope: 'mcp admin' });
    assert.deepEqual([r.status, r.json?.error], [400, 'invalid_scope'], r.text);
    assert.equal((await refresh(h, client.client_id, refreshToken)).status, 200, 'the refusal consumed nothing');
  });

  test('refresh for another resource is refused with invalid_target', async () => {
    const { client, refreshToken } = await publicFlow(h);
    const params = { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id };
    for (const resource of ['https://other.example.com/mcp', `${h.base}/other`]) {
      const r = await postForm(`${h.base}/token`, { ...params, resource });
      assert.deepEqual([r.status, r.json?.error], [400, 'invalid_target'], r.text);
    }
    assert.equal((await refresh(h, client.client_id, refreshToken)).status, 200);
  });

  test('a token without a required scope gets 403 insufficient_scope with scope and resource_metadata', async () => {
    const { client, access, refreshToken } = await publicFlow(h);
    assert.equal(decodeJwt(access).payload.scope, 'extra mcp', 'asking for no scope grants every scope');
    assert.equal((await mcp(h, access)).status, 200);
    const narrowed = await postForm(`${h.base}/token`, {
      grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id, scope: 'extra', resource: h.mcpUrl,
    });
    assert.equal(narrowed.status, 200, narrowed.text);
    assert.equal(narrowed.json.scope, 'extra');
    const r = await mcp(h, narrowed.json.access_token);
    assert.equal(r.status, 403, r.text);
    const header = r.headers.get('www-authenticate');
    assert.match(header, /^Bearer error="insufficient_scope", scope="mcp", resource_metadata="[^"]+"/);
    const { params } = parseChallenge(header);
    assert.equal(params.error, 'insufficient_scope');
    assert.equal(params.scope, 'mcp');
    assert.equal(params.resource_metadata, `${h.base}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(r.json?.error, 'insufficient_scope');
    assert.equal(r.headers.get('content-type'), 'application/json');
  });

  test('an invalid or revoked token lacking the scope is 401, never 403', async () => {
    const { client, refreshToken } = await publicFlow(h);
    const narrowed = await postForm(`${h.base}/token`, {
      grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id, scope: 'extra',
    });
    const access = narrowed.json.access_token;
    const [hd, body, sig] = access.split('.');
    const badSig = `${hd}.${body}.${sig.slice(0, -4)}${sig.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    assertInvalidTokenChallenge(h, await mcp(h, badSig));
    assert.equal((await mcp(h, access)).status, 403, 'valid but lacking the scope');
    assert.equal((await revoke(h, { client_id: client.client_id, token: access })).status, 200);
    const seen = await pollUntilRefused(h, access, Date.now(), CHECK_SECONDS * 1000 + 5_000, 403);
    assert.ok(seen, 'a revoked token must end in 401');
    assertInvalidTokenChallenge(h, seen.res);
  });
});

describe('with the default REVOCATION_CHECK_SECONDS (10)', () => {
  const DEFAULT_CHECK_SECONDS = 10;
  let h;
  before(async () => {
    h = await startHarness({ name: 'revocation-default' });
  });
  after(async () => {
    await h?.stop();
  });

  test('a revoked grant is refused at /mcp within the default bound, and not by a query per request', async () => {
    const { client, access, refreshToken } = await publicFlow(h);
    // The first /mcp request of this isolate reads the revoked set; the next 10 s are served from memory.
    const primedAt = Date.now();
    assert.equal((await mcp(h, access)).status, 200);
    const t0 = Date.now();
    assert.equal((await revoke(h, { client_id: client.client_id, token: refreshToken })).status, 200);
    const first = await mcp(h, access);
    if (Date.now() - primedAt < DEFAULT_CHECK_SECONDS * 1000 - 500) {
      // Only meaningful while the cached view is certainly younger than the interval.
      assert.equal(first.status, 200, 'within the interval the isolate answers from its cache (no D1 read per request)');
    }
    const limitMs = DEFAULT_CHECK_SECONDS * 1000 + 5_000;
    const seen = first.status === 401 ? { delayMs: Date.now() - t0, polls: 1, res: first } : await pollUntilRefused(h, access, t0, limitMs);
    assert.ok(seen, `the access token still worked ${limitMs} ms after revocation`);
    console.log(`# REVOCATION_CHECK_SECONDS=${DEFAULT_CHECK_SECONDS} (default): refused ${seen.delayMs} ms after /revoke was sent (${seen.polls} polls)`);
    assert.ok(seen.delayMs <= DEFAULT_CHECK_SECONDS * 1000 + 5_000);
    assertInvalidTokenChallenge(h, seen.res);
  });
});
