// Signing-key rotation in the real worker: tokens and the owner's login from key A survive
// a restart with B as the newest key (SIGNING_KEYS = "SIGNING_KEY_B SIGNING_KEY"), new tokens
// carry B's kid, and retiring A refuses A's tokens. Also: a broken key setting is one clear
// error on `/` and in the log, not a crash.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startHarness } from './harness.mjs';
import { authorizeUrl, decodeJwt, get, initializeBody, mcpPost, pkcePair, redeemCode, refresh, register, LOOPBACK_REDIRECT } from './oauth.mjs';
import { Browser, continueAsOwner, parseForms } from './owner.mjs';

let h;
before(async () => {
  h = await startHarness({ name: 'rotation' });
});
after(async () => {
  await h?.stop();
});

const KEY_B = randomBytes(32).toString('base64url');
const ROTATED = { secrets: { SIGNING_KEY_B: KEY_B }, vars: { SIGNING_KEYS: 'SIGNING_KEY_B SIGNING_KEY' } };
const RETIRED = { secrets: { SIGNING_KEY_B: KEY_B }, vars: { SIGNING_KEYS: 'SIGNING_KEY_B' } };

/** Starts an authorization for `client` in `browser`; returns the first page and the PKCE pair. */
async function startAuthorization(browser, client) {
  const pkce = pkcePair();
  const page = await browser.request(
    authorizeUrl(h.base, {
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: LOOPBACK_REDIRECT,
      state: 'rot',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      resource: h.mcpUrl,
    }),
  );
  return { page, pkce };
}

const hasPasswordField = (page) => parseForms(page.text).some((f) => JSON.stringify(f).includes('password'));

async function tokensFor(browser, client, password) {
  const { page, pkce } = await startAuthorization(browser, client);
  const { location } = await continueAsOwner(browser, page, { password });
  const code = new URL(location).searchParams.get('code');
  assert.ok(code, location);
  const t = await redeemCode(h, { client, code, pkce, redirectUri: LOOPBACK_REDIRECT });
  assert.equal(t.status, 200, t.text);
  return t.json;
}

const mcpStatus = async (token) => (await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${token}` })).status;
const jwksKids = async () => {
  const r = await get(`${h.base}/.well-known/jwks.json`);
  assert.equal(r.status, 200, r.text);
  return r.json.keys.map((k) => k.kid);
};

test('rotation logs nobody out; retirement ends only the old key\'s tokens', async () => {
  const reg = await register(h.base);
  assert.equal(reg.status, 201, reg.text);
  const client = reg.json;
  const browser = new Browser(h.base);

  // --- key A only -------------------------------------------------------------------
  const a = await tokensFor(browser, client, h.password);
  const kidA = decodeJwt(a.access_token).header.kid;
  assert.deepEqual(await jwksKids(), [kidA]);
  assert.equal(await mcpStatus(a.access_token), 200);
  // A consent page rendered under A (the owner is logged in), submitted after the rotation.
  const pending = await startAuthorization(browser, client);
  assert.equal(pending.page.status, 200);
  assert.ok(!hasPasswordField(pending.page), 'logged in: consent page, no password');

  // --- B newest, A still trusted -----------------------------------------------------
  await h.restart(ROTATED);
  const kids = await jwksKids();
  assert.equal(kids.length, 2, 'JWKS lists both keys');
  const kidB = kids[0];
  assert.notEqual(kidB, kidA);
  assert.deepEqual(kids, [kidB, kidA], 'newest first');
  assert.equal(await mcpStatus(a.access_token), 200, 'the old access token still works at /mcp');

  const submitted = await continueAsOwner(browser, pending.page, {});
  assert.ok(new URL(submitted.location).searchParams.get('code'), 'a consent form from before the rotation still submits');

  const again = await startAuthorization(browser, client);
  assert.ok(!hasPasswordField(again.page), 'the owner is still logged in after the rotation');

  const r = await refresh(h, client.client_id, a.refresh_token);
  assert.equal(r.status, 200, 'the old refresh token still works');
  const b = r.json;
  assert.equal(decodeJwt(b.access_token).header.kid, kidB, 'new tokens are signed by the newest key');
  assert.equal(await mcpStatus(b.access_token), 200);

  // --- A retired ---------------------------------------------------------------------
  await h.restart(RETIRED);
  assert.deepEqual(await jwksKids(), [kidB]);
  const old = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${a.access_token}` });
  assert.equal(old.status, 401, 'a token signed by the retired key is refused');
  assert.match(old.headers.get('www-authenticate') ?? '', /invalid_token/);
  assert.equal(await mcpStatus(b.access_token), 200);
  const r2 = await refresh(h, client.client_id, b.refresh_token);
  assert.equal(r2.status, 200, 'refresh tokens do not depend on the signing key');
  assert.equal(decodeJwt(r2.json.access_token).header.kid, kidB);
});

test('SIGNING_KEYS naming a missing secret is one clear error on / and in the log', async () => {
  await h.restart({ vars: { SIGNING_KEYS: 'SIGNING_KEY_C SIGNING_KEY' } });
  const home = await get(`${h.base}/`);
  assert.equal(home.status, 503, home.text);
  assert.match(home.text, /SIGNING_KEYS/);
  assert.match(home.text, /SIGNING_KEY_C/);
  assert.match(home.text, /not set/);
  const meta = await get(`${h.base}/.well-known/jwks.json`);
  assert.equal(meta.status, 503);
  assert.equal(meta.json.error, 'temporarily_unavailable');
  assert.match(meta.json.error_description, /SIGNING_KEYS/);
  // wrangler writes the worker's console output a moment after the response: bounded poll.
  let event;
  for (let i = 0; i < 100 && !event; i++) {
    const line = readFileSync(h.logFile, 'utf8').split('\n').find((l) => l.includes('"event":"config_error"'));
    if (line) event = JSON.parse(line.replace(/\x1b\[[0-9;]*m/g, '').slice(line.replace(/\x1b\[[0-9;]*m/g, '').indexOf('{')));
    else await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(event, 'a config_error line in the log');
  assert.equal(event.variable, 'SIGNING_KEYS');
  assert.match(event.problem, /names the secret SIGNING_KEY_C, which is not set/);
  const log = readFileSync(h.logFile, 'utf8');
  assert.ok(!log.includes(h.signingKey) && !log.includes(KEY_B), 'no key material in the log');
});
