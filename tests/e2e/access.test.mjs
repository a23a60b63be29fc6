// Cloudflare Access in front of /authorize, remembered consent, and password sign-in switched
// off — in workerd with local D1.
//
// A fixture on 127.0.0.1 plays the team domain: it serves a real RSA key at
// /cdn-cgi/access/certs in Access's documented format (`keys` as JWKs, plus `public_cert` and
// `public_certs` in PEM). The test signs application tokens with that key, as Access does, and
// sets them as the Cf-Access-Jwt-Assertion header, as Access does on every request it lets
// through. PASSWORD_LOGIN=off: Access is the only way in.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

import { startHarness } from './harness.mjs';
import { Browser, parseForms } from './owner.mjs';
import { LOOPBACK_REDIRECT, authorizeUrl, initializeBody, mcpPost, pkcePair, postForm, redeemCode, refresh, register } from './oauth.mjs';

const AUD = randomBytes(32).toString('hex'); // an Access application's AUD tag looks like this
const EMAIL = 'owner@example.com';
const ASSERTION = 'cf-access-jwt-assertion';

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A key pair and the certs document Access publishes for it. */
function accessKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(32).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  return { privateKey, kid, jwk, pem };
}

function sign(key, claims, header = { alg: 'RS256', kid: key.kid, typ: 'JWT' }) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const signature = createSign('RSA-SHA256').update(input).sign(key.privateKey).toString('base64url');
  return `${input}.${signature}`;
}

let h;
let team; // the fixture's origin: the team domain
let fixture;
let certsFetched = 0;
const key = accessKey();
const stranger = accessKey(); // same kid as nobody's, never published

function claims(overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud: [AUD], email: EMAIL, exp: now + 600, iat: now, nbf: now, iss: team, type: 'app',
    identity_nonce: randomBytes(8).toString('hex'), sub: '7335d417-61da-459d-899c-0a01c76a2f94', country: 'US',
    ...overrides,
  };
}

/** A browser behind Access: every request to Gatehouse carries the assertion. */
const accessBrowser = (assertion) => new Browser(h.base, { headers: { [ASSERTION]: assertion } });

// An https callback: TLS proves who receives the code, so a public client's approval may be
// remembered (RFC 8252 §8.6); a loopback one never is (the last test).
const APP_REDIRECT = 'https://app.example/callback';

async function newClient(redirectUri = APP_REDIRECT) {
  const reg = await register(h.base, { redirect_uris: [redirectUri] });
  assert.equal(reg.status, 201, reg.text);
  return reg.json;
}

function authorizeFor(client, pkce, scope) {
  return authorizeUrl(h.base, {
    response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect_uris[0], state: 'st',
    code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl, scope,
  });
}

/** Approves on the consent page; returns the redirect back to the client. */
async function approve(browser, page, { remember = false } = {}) {
  assert.equal(page.status, 200, page.text.slice(0, 500));
  const [form] = parseForms(page.text);
  assert.equal(form.action, '/consent', 'the consent form');
  const fields = { ...form.fields, decision: 'approve', ...(remember ? { remember: 'on' } : {}) };
  const r = await browser.request(new URL('/consent', h.base), { method: 'POST', form: fields });
  assert.equal(r.status, 303, r.text.slice(0, 500));
  return new URL(r.location);
}

before(async () => {
  fixture = createServer((req, res) => {
    if (req.url === '/cdn-cgi/access/certs') {
      certsFetched++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [key.jwk], public_cert: { kid: key.kid, cert: key.pem }, public_certs: [{ kid: key.kid, cert: key.pem }] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => fixture.listen(0, '127.0.0.1', r));
  team = `http://127.0.0.1:${fixture.address().port}`;
  h = await startHarness({
    name: 'access',
    vars: {
      CF_ACCESS_TEAM_DOMAIN: team, CF_ACCESS_AUD: AUD, PASSWORD_LOGIN: 'off', SCOPES: 'mcp extra', CONSENT_REMEMBER_DAYS: '30',
      ADMIN_SUBJECTS: `access:${EMAIL}`,
    },
  });
});

after(async () => {
  await h?.stop();
  fixture?.close();
});

test('a valid Access assertion goes straight to consent; the token reaches the origin as access:<email>', async () => {
  const client = await newClient();
  const pkce = pkcePair();
  const browser = accessBrowser(sign(key, claims({ email: 'Owner@Example.com' })));
  const page = await browser.request(authorizeFor(client, pkce));
  assert.equal(page.status, 200, page.text.slice(0, 500));
  assert.doesNotMatch(page.text, /type="password"/, 'no password asked');
  assert.match(page.text, /value="approve"/, 'the consent page');
  assert.match(page.text, /Remember for 30 days/);
  assert.match(page.headers.get('set-cookie') ?? '', /__Host-gatehouse-session=/);
  assert.ok(certsFetched >= 1, 'the certs were fetched from the team domain');
  const back = await approve(browser, page);
  const code = back.searchParams.get('code');
  assert.ok(code, back.href);
  const tok = await redeemCode(h, { client, code, pkce, redirectUri: APP_REDIRECT });
  assert.equal(tok.status, 200, tok.text);
  const mcp = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${tok.json.access_token}` });
  assert.equal(mcp.status, 200, mcp.text);
  const seen = (await h.seen()).at(-1).headers;
  assert.equal(seen['x-gatehouse-user'], `access:${EMAIL}`);
});

test('wrong audience, wrong issuer, expired, unsigned and foreign-key assertions are refused', async () => {
  const client = await newClient();
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    'wrong audience': sign(key, claims({ aud: [randomBytes(32).toString('hex')] })),
    'wrong issuer': sign(key, claims({ iss: 'https://other.cloudflareaccess.com' })),
    expired: sign(key, claims({ exp: now - 3600, iat: now - 7200, nbf: now - 7200 })),
    unsigned: `${b64url({ alg: 'none', kid: key.kid, typ: 'JWT' })}.${b64url(claims())}.`,
    'signed by another key under the published kid': sign({ ...stranger, kid: key.kid }, claims()),
  };
  for (const [name, assertion] of Object.entries(cases)) {
    const browser = accessBrowser(assertion);
    const page = await browser.request(authorizeFor(client, pkcePair()));
    assert.equal(page.status, 400, `${name}: ${page.text.slice(0, 300)}`);
    assert.match(page.text, /Cloudflare Access sign-in could not be verified/, name);
    assert.doesNotMatch(page.headers.get('set-cookie') ?? '', /gatehouse-session/, `${name}: no session`);
    assert.equal(parseForms(page.text).length, 0, `${name}: no form`);
  }
});

test('without an assertion, with Access the only way in, the page says to come through Access', async () => {
  const client = await newClient();
  const page = await new Browser(h.base).request(authorizeFor(client, pkcePair()));
  assert.equal(page.status, 403, page.text.slice(0, 300));
  assert.match(page.text, /Cloudflare Access/);
});

test('password sign-in switched off: /login and the /admin form refuse with a page', async () => {
  const login = await postForm(`${h.base}/login`, { request: 'ar_x', csrf: 'x', password: h.password });
  assert.equal(login.status, 403, login.text.slice(0, 300));
  assert.match(login.text, /switched off/);
  const browser = new Browser(h.base);
  const admin = await browser.request('/admin');
  assert.equal(admin.status, 403);
  assert.doesNotMatch(admin.text, /type="password"/);
  const post = await browser.request('/admin', { method: 'POST', form: { action: 'login', csrf: 'x', password: h.password } });
  assert.equal(post.status, 403);
  assert.match(post.text, /switched off/);
  assert.doesNotMatch(post.headers.get('set-cookie') ?? '', /gatehouse-session/);
});

test('behind Access the admin page signs in without a password', async () => {
  const browser = accessBrowser(sign(key, claims()));
  const first = await browser.request('/admin');
  assert.equal(first.status, 303, first.text.slice(0, 300));
  const dash = await browser.request(first.location);
  assert.equal(dash.status, 200, dash.text.slice(0, 300));
  assert.match(dash.text, new RegExp(`access:${EMAIL}`));
  const forged = await accessBrowser(sign(stranger, claims())).request('/admin');
  assert.equal(forged.status, 400, 'a foreign key does not sign in');
  // Someone else the Access policy lets in may connect clients, not administer.
  const guest = accessBrowser(sign(key, claims({ email: 'guest@example.com' })));
  const signedIn = await guest.request('/admin');
  const refused = signedIn.status === 303 ? await guest.request(signedIn.location) : signedIn;
  assert.equal(refused.status, 403, refused.text.slice(0, 300));
  assert.match(refused.text, /Not an administrator/);
  assert.doesNotMatch(refused.text, /revoke_grant/);
});

test('remembered consent: no page for the same client and scope, the page again for a wider scope and after /revoke', async () => {
  const client = await newClient();
  const browser = accessBrowser(sign(key, claims()));
  const first = pkcePair();
  const back = await approve(browser, await browser.request(authorizeFor(client, first, 'mcp')), { remember: true });
  const tok = await redeemCode(h, { client, code: back.searchParams.get('code'), pkce: first, redirectUri: APP_REDIRECT });
  assert.equal(tok.status, 200, tok.text);

  // Same client, same scope: straight back with a code, no page.
  const second = pkcePair();
  const skipped = await browser.request(authorizeFor(client, second, 'mcp'));
  assert.equal(skipped.status, 303, skipped.text.slice(0, 300));
  const loc = new URL(skipped.location);
  assert.equal(loc.origin + loc.pathname, APP_REDIRECT);
  assert.equal(loc.searchParams.get('state'), 'st');
  const tok2 = await redeemCode(h, { client, code: loc.searchParams.get('code'), pkce: second, redirectUri: APP_REDIRECT });
  assert.equal(tok2.status, 200, tok2.text);
  const audit = await h.sql(`SELECT event FROM audit_events WHERE client_id = '${client.client_id}' ORDER BY id`);
  assert.ok(audit.some((e) => e.event === 'consent.remembered'), JSON.stringify(audit));

  // A wider scope than approved: the page.
  const wider = await browser.request(authorizeFor(client, pkcePair(), 'mcp extra'));
  assert.equal(wider.status, 200);
  assert.match(wider.text, /value="approve"/);

  // Another client is not covered.
  const other = await newClient();
  assert.equal((await browser.request(authorizeFor(other, pkcePair(), 'mcp'))).status, 200);

  // The client revokes one of its grants (RFC 7009): forgotten.
  const rev = await postForm(`${h.base}/revoke`, { token: tok2.json.refresh_token, client_id: client.client_id });
  assert.equal(rev.status, 200, rev.text);
  const rows = await h.sql(`SELECT COUNT(*) AS n FROM remembered_consents WHERE client_id = '${client.client_id}'`);
  assert.equal(rows[0].n, 0, 'the row is gone');
  const again = await browser.request(authorizeFor(client, pkcePair(), 'mcp'));
  assert.equal(again.status, 200, 'asked again after the revocation');
  assert.match(again.text, /value="approve"/);

  // Belt and braces: a row older than the revocation (as if a trigger had been missed) does
  // not count; one stored after it does.
  const now = Math.floor(Date.now() / 1000);
  const put = (createdAt) =>
    h.sql(`INSERT OR REPLACE INTO remembered_consents (subject, client_id, scope, created_at, expires_at)
           VALUES ('access:${EMAIL}', '${client.client_id}', 'mcp', ${createdAt}, ${now + 86400})`);
  await put(now - 3600);
  assert.equal((await browser.request(authorizeFor(client, pkcePair(), 'mcp'))).status, 200, 'older than the revocation');
  await put(now + 5);
  assert.equal((await browser.request(authorizeFor(client, pkcePair(), 'mcp'))).status, 303, 'newer than the revocation');
});

/** Remembers consent for a new client; returns { client, tokens, asks } (asks: is the page shown?). */
async function rememberedClient(browser) {
  const client = await newClient();
  const pkce = pkcePair();
  const back = await approve(browser, await browser.request(authorizeFor(client, pkce, 'mcp')), { remember: true });
  const tokens = await redeemCode(h, { client, code: back.searchParams.get('code'), pkce, redirectUri: APP_REDIRECT });
  assert.equal(tokens.status, 200, tokens.text);
  const asks = async () => {
    const r = await browser.request(authorizeFor(client, pkcePair(), 'mcp'));
    assert.ok([200, 303].includes(r.status), `${r.status} ${r.text.slice(0, 200)}`);
    return r.status === 200;
  };
  assert.equal(await asks(), false, 'remembered');
  return { client, tokens: tokens.json, asks };
}

test('revoking on the admin page, and refresh-token reuse, forget remembered consent too', async () => {
  const browser = accessBrowser(sign(key, claims()));
  const viaAdmin = await rememberedClient(browser);
  const viaReuse = await rememberedClient(browser);

  let dash = await browser.request('/admin');
  if (dash.status === 303) dash = await browser.request(dash.location);
  assert.equal(dash.status, 200, dash.text.slice(0, 300));
  const grant = (await h.sql(`SELECT grant_id FROM grants WHERE client_id = '${viaAdmin.client.client_id}' LIMIT 1`))[0].grant_id;
  const form = parseForms(dash.text).find((f) => f.fields.action === 'revoke_grant' && f.fields.grant === grant);
  assert.ok(form, 'a Revoke button for the grant');
  const revoked = await browser.request('/admin', { method: 'POST', form: form.fields });
  assert.equal(revoked.status, 303, revoked.text.slice(0, 300));
  assert.equal(await viaAdmin.asks(), true, 'asked again after the admin revoked a grant');

  const { client_id: id } = viaReuse.client;
  const first = await refresh(h, id, viaReuse.tokens.refresh_token);
  assert.equal(first.status, 200, first.text);
  // As if the rotation were two minutes old: past the grace window for parallel refreshes.
  await h.sql(`UPDATE refresh_tokens SET used_at = used_at - 120 WHERE client_id = '${id}' AND used_at IS NOT NULL`);
  const reused = await refresh(h, id, viaReuse.tokens.refresh_token);
  assert.equal(reused.status, 400, 'the rotated token reused');
  assert.equal(await viaReuse.asks(), true, 'asked again after refresh-token reuse revoked the grant');
});

test('deleting a client forgets its remembered consents (database trigger)', async () => {
  const client = await newClient();
  const browser = accessBrowser(sign(key, claims()));
  await approve(browser, await browser.request(authorizeFor(client, pkcePair(), 'mcp')), { remember: true });
  const count = async () => (await h.sql(`SELECT COUNT(*) AS n FROM remembered_consents WHERE client_id = '${client.client_id}'`))[0].n;
  assert.equal(await count(), 1);
  await h.sql(`DELETE FROM clients WHERE client_id = '${client.client_id}'`);
  assert.equal(await count(), 0);
});

test('remembered consent never skips the page for a public client at a loopback redirect (RFC 8252 §8.6): no box, and a forged one is ignored', async () => {
  const client = await newClient(LOOPBACK_REDIRECT);
  const browser = accessBrowser(sign(key, claims()));
  const first = await browser.request(authorizeFor(client, pkcePair(), 'mcp'));
  assert.equal(first.status, 200, first.text.slice(0, 300));
  assert.doesNotMatch(first.text, /name="remember"/, 'no Remember box where it could never apply');
  const back = await approve(browser, first, { remember: true });
  assert.equal(back.origin + back.pathname, LOOPBACK_REDIRECT);
  const again = await browser.request(authorizeFor(client, pkcePair(), 'mcp'));
  assert.equal(again.status, 200, `asked again, no silent code to a port any local program could hold: ${again.status} ${again.location ?? ''}`);
  assert.match(again.text, /value="approve"/);
  const rows = await h.sql(`SELECT COUNT(*) AS n FROM remembered_consents WHERE client_id = '${client.client_id}'`);
  assert.equal(rows[0].n, 0, 'nothing remembered');
});
