// private_key_jwt end to end (RFC 7523 §2.2): a Client ID Metadata Document client whose
// document names keys (inline `jwks` or a `jwks_uri`) authenticates at /token, /revoke and
// /introspect with a client assertion signed by `jose`. Documents and key sets are served
// through the CIMD_FETCH fixture (tests/e2e/fixtures/cimd-fetcher), so both are fetched at
// their real https URLs under Gatehouse's URL rules. Every wrong assertion is 401
// invalid_client and changes nothing; a document that also offers `none` still connects as
// a public client when its key host is down. One worker for the whole file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { ROOT, startHarness } from './harness.mjs';
import { startDocServer } from './doc_server.mjs';
import { approveAsOwner } from './owner.mjs';
import { LOOPBACK_REDIRECT, authorizeUrl, get, initializeBody, mcpPost, pkcePair, postForm, redeemCode, refresh } from './oauth.mjs';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
// TEST_CLAIM_DELAY_MS: one-time claims wait this long after their checks, so that two
// concurrent uses of one assertion both pass the checks and only the claim can decide.
const CLAIM_DELAY_MS = 300;

/**
 * ChatGPT's metadata document as published at https://chatgpt.com/oauth/client.json,
 * copied from django-oauth/django-oauth-toolkit#1845 (2026-08-26, "ChatGPT's CIMD contents";
 * the same members in stacklok/toolhive#6278 and cloudflare/workers-oauth-provider#254),
 * read on 2026-12-02. It prefers private_key_jwt (RS256, keys at chatgpt.com/oauth/jwks.json)
 * and also offers `none`. Its real keys are not ours: the test serves its own RS256 key at
 * that jwks_uri.
 */
const CHATGPT_DOCUMENT = {
  client_id: 'https://chatgpt.com/oauth/client.json',
  client_uri: 'https://chatgpt.com/',
  redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  client_name: 'ChatGPT',
  logo_uri: 'https://persistent.oaistatic.com/sonic/misc/openai-logo.png',
  token_endpoint_auth_signing_alg: 'RS256',
  jwks_uri: 'https://chatgpt.com/oauth/jwks.json',
};

let h;
let docs;
before(async () => {
  docs = await startDocServer();
  h = await startHarness({
    name: 'pkjwt',
    vars: { TEST_CLAIM_DELAY_MS: String(CLAIM_DELAY_MS) },
    services: [{ binding: 'CIMD_FETCH', service: 'cimd-fetcher' }],
    workers: [{ name: 'cimd-fetcher', main: join(ROOT, 'tests/e2e/fixtures/cimd-fetcher/index.mjs'), vars: { DOC_SERVER: docs.base } }],
  });
});
after(async () => {
  await h?.stop();
  await docs?.close();
});

const fresh = (name, host = 'client.example.com') => `https://${host}/${name}-${randomBytes(4).toString('hex')}.json`;

/** A key pair of `alg` with its public JWK (kid, alg, use). */
async function newKey(alg, kid = `${alg.toLowerCase()}-${randomBytes(3).toString('hex')}`) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

/**
 * A private_key_jwt client: its document at a fresh URL, its keys inline or at a jwks_uri.
 * `offerNone` lists `none` beside private_key_jwt, as ChatGPT's document does.
 */
async function newClient({ alg = 'ES256', inline = false, offerNone = true, jwksAnswer } = {}) {
  const id = fresh(`pkjwt-${alg}`);
  const key = await newKey(alg);
  const jwksUri = fresh('jwks', 'keys.example.com');
  const doc = {
    client_id: id,
    client_name: `private_key_jwt e2e (${alg})`,
    redirect_uris: [LOOPBACK_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_methods_supported: offerNone ? ['none', 'private_key_jwt'] : ['private_key_jwt'],
    ...(inline ? { jwks: { keys: [key.jwk] } } : { jwks_uri: jwksUri }),
  };
  docs.serve(id, { headers: { 'cache-control': 'max-age=600' }, body: JSON.stringify(doc) });
  docs.serve(jwksUri, jwksAnswer ?? { headers: { 'cache-control': 'max-age=600' }, body: JSON.stringify({ keys: [key.jwk] }) });
  return { id, key, jwksUri };
}

/** An assertion for `client` signed by `key` (its own unless said), with claims overridden by `claims`. */
function assertion(client, { key = client.key, aud = `${h.base}/token`, claims = {}, header = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: client.id, sub: client.id, aud, iat: now, exp: now + 120, jti: randomUUID(), ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** The owner approves `clientId`; returns { code, pkce }. */
async function codeFor(clientId, redirectUri = LOOPBACK_REDIRECT) {
  const pkce = pkcePair();
  const url = authorizeUrl(h.base, {
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state: 'pkjwt',
    code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
  });
  const { location } = await approveAsOwner(url, { base: h.base, password: h.password });
  const loc = new URL(location);
  assert.equal(loc.searchParams.get('iss'), h.base, 'RFC 9207 iss');
  const code = loc.searchParams.get('code');
  assert.ok(code, location);
  return { code, pkce, redirectUri };
}

function redeem(flow, clientAssertion, extra = {}) {
  return postForm(`${h.base}/token`, {
    grant_type: 'authorization_code', code: flow.code, redirect_uri: flow.redirectUri, code_verifier: flow.pkce.verifier,
    resource: h.mcpUrl, client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion, ...extra,
  });
}

function refreshWith(refreshToken, clientAssertion) {
  return postForm(`${h.base}/token`, {
    grant_type: 'refresh_token', refresh_token: refreshToken, resource: h.mcpUrl,
    client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion,
  });
}

const withAssertion = (path, fields, clientAssertion) =>
  postForm(`${h.base}${path}`, { ...fields, client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion });

function assertInvalidClient(r, why) {
  assert.equal(r.status, 401, `${why}: ${r.status} ${r.text}`);
  assert.equal(r.json?.error, 'invalid_client', `${why}: ${r.text}`);
  assert.ok(r.headers.get('www-authenticate'), `${why}: RFC 6749 §5.2 challenge`);
  assert.equal(r.json?.access_token, undefined);
}

// ---- discovery ------------------------------------------------------------------------

test('metadata advertises private_key_jwt and its algorithms, and keeps none first', async () => {
  const r = await get(`${h.base}/.well-known/oauth-authorization-server`);
  assert.equal(r.status, 200);
  assert.equal(r.json.token_endpoint_auth_methods_supported[0], 'none', 'clients pick CIMD only when none is offered');
  for (const endpoint of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
    assert.ok(r.json[`${endpoint}_auth_methods_supported`].includes('private_key_jwt'), endpoint);
    assert.deepEqual(r.json[`${endpoint}_auth_signing_alg_values_supported`], ALGS, endpoint);
  }
  assert.equal(r.json.client_id_metadata_document_supported, true);
});

// ---- each algorithm, each way of publishing keys ---------------------------------------

for (const alg of ALGS) {
  for (const inline of [false, true]) {
    const how = inline ? 'inline jwks' : 'jwks_uri';
    test(`${alg} via ${how}: code → tokens → /mcp, refresh, introspect and revoke with assertions`, async () => {
      const client = await newClient({ alg, inline });
      const flow = await codeFor(client.id);
      const t = await redeem(flow, await assertion(client));
      assert.equal(t.status, 200, t.text);
      const claims = JSON.parse(Buffer.from(t.json.access_token.split('.')[1], 'base64url'));
      assert.equal(claims.client_id, client.id);
      const mcp = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${t.json.access_token}` });
      assert.equal(mcp.status, 200, mcp.text);

      // Refresh, with the issuer as the audience this time (draft-ietf-oauth-rfc7523bis).
      const r = await refreshWith(t.json.refresh_token, await assertion(client, { aud: h.base }));
      assert.equal(r.status, 200, r.text);
      const rt = r.json.refresh_token;
      assert.notEqual(rt, t.json.refresh_token, 'rotated');

      const i = await withAssertion('/introspect', { token: rt }, await assertion(client));
      assert.equal(i.status, 200, i.text);
      assert.equal(i.json.active, true);
      assert.equal(i.json.client_id, client.id);

      const v = await withAssertion('/revoke', { token: rt }, await assertion(client));
      assert.equal(v.status, 200, v.text);
      const dead = await refreshWith(rt, await assertion(client));
      assert.equal(dead.json?.error, 'invalid_grant', 'revoked');
      if (!inline) assert.equal(docs.count(client.jwksUri), 1, 'the key set was fetched once for all five requests (max-age=600)');
    });
  }
}

// ---- refusals: 401 invalid_client, nothing changed --------------------------------------

/** Every way an assertion for `client` can be wrong, each with its description. */
async function badAssertions(client, other) {
  const stranger = await newKey(client.key.alg, client.key.kid);
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: client.id, sub: client.id, aud: `${h.base}/token`, iat: now, exp: now + 120, jti: randomUUID() };
  const replayed = await assertion(client);
  // Spent once, legitimately, at /introspect.
  const spend = await withAssertion('/introspect', { token: 'x' }, replayed);
  assert.equal(spend.status, 200, spend.text);
  return [
    ['signed by a key not in the document (same kid)', await assertion(client, { key: stranger })],
    ['wrong aud', await assertion(client, { aud: 'https://other-server.example/token' })],
    ['aud of our revocation endpoint', await assertion(client, { aud: `${h.base}/revoke` })],
    ['expired', await assertion(client, { claims: { iat: now - 600, exp: now - 300 } })],
    ['exp an hour ahead', await assertion(client, { claims: { exp: now + 3600 } })],
    ['no exp', await assertion(client, { claims: { exp: undefined } })],
    ['no jti', await assertion(client, { claims: { jti: undefined } })],
    ['replayed jti', replayed],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`],
    [
      'HS256 keyed with the public key',
      await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: client.key.kid }).sign(new TextEncoder().encode(JSON.stringify(client.key.jwk))),
    ],
    ['iss differs from sub', await assertion(client, { claims: { iss: other.id } })],
    ['claims to be this client, signed by another client', await assertion(client, { key: other.key })],
  ];
}

test('wrong, expired, replayed and forged assertions are 401 invalid_client and the code stays redeemable', async () => {
  const client = await newClient({ alg: 'RS256' });
  const other = await newClient({ alg: 'RS256' });
  const flow = await codeFor(client.id);
  for (const [why, bad] of await badAssertions(client, other)) {
    assertInvalidClient(await redeem(flow, bad), why);
  }
  // Another client's valid assertion, presented with this client's id.
  assertInvalidClient(await redeem(flow, await assertion(other), { client_id: client.id }), "another client's assertion");
  const ok = await redeem(flow, await assertion(client));
  assert.equal(ok.status, 200, `the code survived every refusal: ${ok.text}`);
});

test('wrong assertions at refresh rotate nothing: the refresh token still works afterwards', async () => {
  const client = await newClient({ alg: 'ES256', offerNone: false });
  const other = await newClient({ alg: 'ES256' });
  const t = await redeem(await codeFor(client.id), await assertion(client));
  assert.equal(t.status, 200, t.text);
  for (const [why, bad] of await badAssertions(client, other)) {
    assertInvalidClient(await refreshWith(t.json.refresh_token, bad), why);
  }
  assertInvalidClient(await refresh(h, client.id, t.json.refresh_token), 'no authentication from a client that never offered none');
  const r = await refreshWith(t.json.refresh_token, await assertion(client));
  assert.equal(r.status, 200, `the refresh token still works: ${r.text}`);
});

test('/revoke and /introspect refuse a wrong assertion and revoke nothing', async () => {
  const client = await newClient({ alg: 'EdDSA' });
  const t = await redeem(await codeFor(client.id), await assertion(client));
  const stranger = await newKey('EdDSA', client.key.kid);
  const forged = await assertion(client, { key: stranger });
  assertInvalidClient(await withAssertion('/revoke', { token: t.json.refresh_token }, forged), 'revoke');
  assertInvalidClient(await withAssertion('/introspect', { token: t.json.refresh_token }, await assertion(client, { key: stranger })), 'introspect');
  const r = await refreshWith(t.json.refresh_token, await assertion(client));
  assert.equal(r.status, 200, `not revoked: ${r.text}`);
});

test('one assertion used twice at once: exactly one request wins', async () => {
  const client = await newClient({ alg: 'ES256' });
  const [a, b] = [await codeFor(client.id), await codeFor(client.id)];
  const once = await assertion(client);
  const results = await Promise.all([redeem(a, once), redeem(b, once)]);
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 401], results.map((r) => r.text).join('\n'));
  const loser = results.find((r) => r.status === 401);
  assert.match(loser.json.error_description, /already used/);
});

// ---- coexistence with none -------------------------------------------------------------

test('key host down, document also offers none: a public client with PKCE still connects', async () => {
  const held = [];
  const client = await newClient({ alg: 'RS256', jwksAnswer: (req, res) => held.push(res) }); // never answers
  const flow = await codeFor(client.id);
  const t = await redeemCode(h, { client: { client_id: client.id }, code: flow.code, pkce: flow.pkce, redirectUri: flow.redirectUri });
  assert.equal(t.status, 200, t.text);
  const mcp = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${t.json.access_token}` });
  assert.equal(mcp.status, 200, mcp.text);
  const r = await refresh(h, client.id, t.json.refresh_token);
  assert.equal(r.status, 200, r.text);
  assert.equal(docs.count(client.jwksUri), 0, 'the key host was never needed');

  // An assertion, once sent, is verified: with the keys out of reach it is refused, no fallback.
  const second = await codeFor(client.id);
  const refused = await redeem(second, await assertion(client));
  assertInvalidClient(refused, 'keys unreachable');
  assert.match(refused.json.error_description, /jwks_uri/);
  const publicAgain = await redeemCode(h, { client: { client_id: client.id }, code: second.code, pkce: second.pkce, redirectUri: second.redirectUri });
  assert.equal(publicAgain.status, 200, `the code survived: ${publicAgain.text}`);
  for (const res of held) res.destroy();
});

test('a document that offers only private_key_jwt: a public request is 401, the code survives', async () => {
  const client = await newClient({ alg: 'PS256', offerNone: false });
  const flow = await codeFor(client.id);
  const r = await redeemCode(h, { client: { client_id: client.id }, code: flow.code, pkce: flow.pkce, redirectUri: flow.redirectUri });
  assertInvalidClient(r, 'public request');
  assert.match(r.json.error_description, /must authenticate with private_key_jwt/);
  const ok = await redeem(flow, await assertion(client));
  assert.equal(ok.status, 200, ok.text);
});

// ---- ChatGPT's published document ------------------------------------------------------

test("ChatGPT's published document: private_key_jwt (RS256 at its jwks_uri) and none both connect", async () => {
  const key = await newKey('RS256', 'cimd-test');
  docs.serve(CHATGPT_DOCUMENT.client_id, { headers: { 'cache-control': 'max-age=600' }, body: JSON.stringify(CHATGPT_DOCUMENT) });
  docs.serve(CHATGPT_DOCUMENT.jwks_uri, { headers: { 'cache-control': 'max-age=600' }, body: JSON.stringify({ keys: [key.jwk] }) });
  const chatgpt = { id: CHATGPT_DOCUMENT.client_id, key };
  const redirect = CHATGPT_DOCUMENT.redirect_uris[0];

  const flow = await codeFor(chatgpt.id, redirect);
  const t = await redeem(flow, await assertion(chatgpt));
  assert.equal(t.status, 200, t.text);
  const r = await refreshWith(t.json.refresh_token, await assertion(chatgpt));
  assert.equal(r.status, 200, r.text);
  // The document pins RS256: an ES256 key in its set would not be accepted for it.
  const es = await newKey('ES256', 'cimd-es');
  docs.serve(CHATGPT_DOCUMENT.jwks_uri, { body: JSON.stringify({ keys: [key.jwk, es.jwk] }) });
  const second = await codeFor(chatgpt.id, redirect);
  assertInvalidClient(await redeem(second, await assertion(chatgpt, { key: es })), 'not the pinned algorithm');
  // And as the public client its document also allows.
  const pub = await redeemCode(h, { client: { client_id: chatgpt.id }, code: second.code, pkce: second.pkce, redirectUri: redirect });
  assert.equal(pub.status, 200, pub.text);
});
