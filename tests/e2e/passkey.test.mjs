// Owner passkeys in a real browser: Debian's Chromium (playwright-core, never a downloaded browser)
// with Chrome's virtual WebAuthn authenticator (CDP WebAuthn domain, CTAP2, internal transport,
// resident keys, user verification). Enrolment with the one-time setup code, login by passkey
// through an MCP client's authorization, management on /passkeys, and refusals of credentials
// that were never enrolled or were removed.
//
// The browser uses http://localhost:<port>: an IP address cannot be a WebAuthn RP ID, and
// Gatehouse takes the RP ID from its public host (here the Host the browser uses).
// One worker for the whole file; the tests run in order and build on each other's state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { startHarness } from './harness.mjs';
import { authorizeUrl, get, initializeBody, mcpPost, pkcePair, postForm, register } from './oauth.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const SETUP_CODE = `setup-${randomBytes(12).toString('base64url')}`;
/** The MCP client's loopback redirect URI: a real listener, set in before(). */
let CALLBACK;
let callbackServer;

let h;
let base; // http://localhost:<port>
let browser;
let owner; // { context, page, cdp, authenticatorId }: the enrolled passkey's browser

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: bash scripts/setup.sh installs Debian's chromium`);
  h = await startHarness({ name: 'passkey', secrets: { PASSKEY_SETUP_CODE: SETUP_CODE } });
  base = `http://localhost:${new URL(h.base).port}`;
  callbackServer = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('client callback'));
  await new Promise((r) => callbackServer.listen(0, '127.0.0.1', r));
  CALLBACK = `http://127.0.0.1:${callbackServer.address().port}/callback`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  owner = await withAuthenticator(await browser.newContext());
});

after(async () => {
  await browser?.close();
  callbackServer?.close();
  await h?.stop();
});

/** A page in `context` with its own virtual authenticator (CTAP2, platform, UV, resident keys). */
async function withAuthenticator(context) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, cdp, authenticatorId };
}

const credentials = async (who) => (await who.cdp.send('WebAuthn.getCredentials', { authenticatorId: who.authenticatorId })).credentials;

/** Clicks a form's submit button and waits for the navigation that follows. */
async function submit(page, selector) {
  const [resp] = await Promise.all([page.waitForNavigation({ timeout: 30_000 }), page.click(selector)]);
  return resp;
}

/** The status line `/passkey.js` writes when a ceremony cannot start or is refused client-side. */
async function statusOf(page, form) {
  const line = page.locator(`${form} [data-passkey-status]`);
  await line.filter({ hasText: /\S/ }).waitFor({ timeout: 15_000 });
  return line.innerText();
}

test('the setup page refuses a wrong setup code and enrols nothing', async () => {
  const { page } = owner;
  const resp = await page.goto(`${base}/passkeys/setup`);
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-security-policy'], /script-src 'self'/);
  assert.doesNotMatch(resp.headers()['content-security-policy'], /unsafe-inline'[^;]*script|script-src[^;]*unsafe/);
  await page.fill('input[name=setup_code]', 'not-the-setup-code-at-all');
  await page.click('#passkey-setup button[type=submit]');
  assert.match(await statusOf(page, '#passkey-setup'), /setup code is not right/);
  assert.equal((await credentials(owner)).length, 0, 'no credential was created for a refused code');
});

test('the owner enrols a first passkey with the setup code (RP ID = the host)', async () => {
  const { page } = owner;
  await page.goto(`${base}/passkeys/setup`);
  await page.fill('input[name=setup_code]', SETUP_CODE);
  await page.fill('input[name=name]', 'laptop');
  const resp = await submit(page, '#passkey-setup button[type=submit]');
  assert.equal(new URL(resp.url()).pathname, '/passkeys', await page.content());
  const rows = page.locator('#passkeys tbody tr');
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().innerText(), /laptop\s+ES256/);
  const creds = await credentials(owner);
  assert.equal(creds.length, 1);
  assert.equal(creds[0].rpId, 'localhost');
  assert.equal(creds[0].isResidentCredential, true);
  const stored = await h.sql('SELECT credential_id, alg, sign_count FROM passkeys');
  assert.equal(stored.length, 1);
  assert.equal(stored[0].alg, 'ES256');
  assert.equal(Buffer.from(stored[0].credential_id, 'base64url').toString('base64'), creds[0].credentialId, 'the browser\'s credential id is stored');
  // The setup code never reaches storage or a page in the clear.
  assert.ok(!JSON.stringify(await h.sql('SELECT * FROM passkey_setup_codes')).includes(SETUP_CODE));
  assert.ok(!(await page.content()).includes(SETUP_CODE));
});

test('the setup code is refused the second time', async () => {
  const fresh = await browser.newContext();
  try {
    const page = await fresh.newPage();
    const resp = await page.goto(`${base}/passkeys/setup`);
    assert.equal(resp.status(), 410);
    assert.match(await page.locator('h1').innerText(), /already used/);
    // Nor does the challenge endpoint hand out a registration challenge for it (with this
    // browser's cookie, as /passkey.js would ask).
    const r = await fresh.request.post(`${base}/passkeys/challenge`, { form: { purpose: 'register', setup_code: SETUP_CODE } });
    assert.equal(r.status(), 410, await r.text());
    assert.match((await r.json()).error_description, /already used/);
  } finally {
    await fresh.close();
  }
  assert.equal((await h.sql('SELECT COUNT(*) AS n FROM passkeys'))[0].n, 1);
});

/** Registers a client and opens its authorization request in `who`'s browser; returns the flow. */
async function startAuthorization(who) {
  const reg = await register(base, { client_name: 'Passkey E2E Client', redirect_uris: [CALLBACK] });
  assert.equal(reg.status, 201, reg.text);
  const pkce = pkcePair();
  const state = randomBytes(8).toString('base64url');
  const url = authorizeUrl(base, {
    response_type: 'code', client_id: reg.json.client_id, redirect_uri: CALLBACK, state,
    code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: `${base}/mcp`,
  });
  const resp = await who.page.goto(url);
  assert.equal(resp.status(), 200);
  return { client: reg.json, pkce, state };
}

test('an MCP client\'s authorization completes by passkey: login, consent, code, token, MCP call', async () => {
  const { context, page } = owner;
  await context.clearCookies(); // no session: the passkey must log in
  const flow = await startAuthorization(owner);
  assert.match(await page.locator('body').innerText(), /Passkey E2E Client/);
  assert.equal(await page.locator('input[type=password][name=password]').count(), 1, 'the password form stays beside it');
  await submit(page, '#passkey-login button[type=submit]');
  assert.equal(new URL(page.url()).pathname, '/consent', await page.content());
  assert.match(await page.locator('h1').innerText(), /Allow access/);
  await submit(page, 'button[value=approve]');
  const back = new URL(page.url());
  assert.equal(`${back.origin}${back.pathname}`, CALLBACK);
  assert.equal(back.searchParams.get('state'), flow.state);
  assert.equal(back.searchParams.get('iss'), base);
  const code = back.searchParams.get('code');
  assert.ok(code);
  const token = await postForm(`${base}/token`, {
    grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: flow.client.client_id,
    code_verifier: flow.pkce.verifier, resource: `${base}/mcp`,
  });
  assert.equal(token.status, 200, token.text);
  const mcp = await mcpPost(`${base}/mcp`, initializeBody(), { authorization: `Bearer ${token.json.access_token}` });
  assert.equal(mcp.status, 200, mcp.text);
  const seen = await h.seen();
  assert.ok(seen.some((s) => JSON.stringify(s).includes('owner')), 'the origin was told the subject "owner"');
  const [row] = await h.sql('SELECT sign_count, last_used_at FROM passkeys');
  assert.ok(row.sign_count > 0 && row.last_used_at > 0, 'the counter moved and the use was recorded');
  const audit = await h.sql("SELECT detail FROM audit_events WHERE event = 'login.success'");
  assert.ok(audit.some((a) => JSON.parse(a.detail).method === 'passkey'), 'the passkey login is audited');
});

test('a password session may see /passkeys but not change it', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${base}/admin`);
    await page.fill('input[name=password]', h.password);
    await submit(page, 'form[action="/admin"] button[type=submit]');
    await page.goto(`${base}/passkeys`);
    assert.match(await page.locator('#passkeys').innerText(), /laptop/);
    assert.equal(await page.locator('button', { hasText: 'Remove' }).count(), 0);
    assert.equal(await page.locator('#passkey-add').count(), 0);
    assert.match(await page.locator('.warn').innerText(), /needs a passkey sign-in/);
    // A hand-made removal with this session's cookies is refused.
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const [{ credential_id: id }] = await h.sql('SELECT credential_id FROM passkeys');
    const r = await postForm(`${base}/passkeys`, { action: 'remove', credential: id, csrf: 'x' }, { cookie, accept: 'text/html' });
    assert.equal(r.status, 403, r.text);
  } finally {
    await context.close();
  }
  assert.equal((await h.sql('SELECT COUNT(*) AS n FROM passkeys'))[0].n, 1);
});

test('a credential that was never enrolled is refused', async () => {
  const stranger = await withAuthenticator(await browser.newContext());
  try {
    // A real resident credential for this RP ID, just not one Gatehouse enrolled.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await stranger.cdp.send('WebAuthn.addCredential', {
      authenticatorId: stranger.authenticatorId,
      credential: {
        credentialId: randomBytes(16).toString('base64'),
        isResidentCredential: true,
        rpId: 'localhost',
        privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
        userHandle: Buffer.from('gatehouse-owner').toString('base64'),
        signCount: 0,
      },
    });
    await stranger.page.goto(`${base}/admin`);
    const resp = await submit(stranger.page, '#passkey-login button[type=submit]');
    assert.equal(resp.status(), 401);
    assert.match(await stranger.page.locator('[role=alert]').first().innerText(), /not enrolled/);
    assert.equal((await stranger.context.cookies()).filter((c) => c.name === '__Host-gatehouse-session').length, 0, 'no session');
  } finally {
    await stranger.context.close();
  }
});

test('a challenge answered from another browser than the one that asked for it is refused', async () => {
  await owner.context.clearCookies();
  await owner.page.goto(`${base}/admin`);
  // Another browser asks for a login challenge…
  const other = await browser.newContext();
  let challenge;
  try {
    await (await other.newPage()).goto(`${base}/admin`);
    const r = await other.request.post(`${base}/passkeys/challenge`, { form: { purpose: 'login' } });
    assert.equal(r.status(), 200);
    challenge = (await r.json()).challenge;
  } finally {
    await other.close();
  }
  // …and the owner's enrolled passkey answers it, in the owner's browser.
  const done = owner.page.waitForNavigation();
  await owner.page.evaluate(async (c) => {
    const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (x) => x.charCodeAt(0));
    const enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const cred = await navigator.credentials.get({ publicKey: { challenge: dec(c), rpId: 'localhost', userVerification: 'required' } });
    const form = document.getElementById('passkey-login');
    form.credential_id.value = enc(cred.rawId);
    form.client_data.value = enc(cred.response.clientDataJSON);
    form.authenticator_data.value = enc(cred.response.authenticatorData);
    form.signature.value = enc(cred.response.signature);
    form.submit();
  }, challenge);
  const refused = await done;
  assert.equal(refused.status(), 401);
  assert.match(await owner.page.locator('[role=alert]').first().innerText(), /expired or was already used/);
  assert.equal((await owner.context.cookies()).filter((c) => c.name === '__Host-gatehouse-session').length, 0, 'no session');
  // A challenge of its own signs the owner in (the next test relies on this session).
  await submit(owner.page, '#passkey-login button[type=submit]');
  assert.equal(await owner.page.locator('#events').count(), 1, 'the dashboard is shown');
});

test('a second passkey is added and removed on /passkeys; the removed one no longer signs in', async () => {
  // The owner's browser holds a passkey session from the authorization above.
  const second = await withAuthenticator(owner.context);
  await second.page.goto(`${base}/passkeys`);
  await second.page.fill('#passkey-add input[name=name]', 'phone');
  await submit(second.page, '#passkey-add button[type=submit]');
  const rows = second.page.locator('#passkeys tbody tr');
  assert.equal(await rows.count(), 2, await second.page.content());
  assert.equal((await credentials(second)).length, 1);

  const phone = second.page.locator('#passkeys tr', { hasText: 'phone' });
  await submit(second.page, '#passkeys tr:has-text("phone") button');
  assert.equal(await rows.count(), 1);
  assert.equal(await phone.count(), 0);
  assert.equal((await credentials(second)).length, 1, 'the authenticator still holds the removed credential');

  await owner.context.clearCookies();
  await second.page.goto(`${base}/admin`);
  const refused = await submit(second.page, '#passkey-login button[type=submit]');
  assert.equal(refused.status(), 401);
  assert.match(await second.page.locator('[role=alert]').first().innerText(), /not enrolled/);
  await second.page.close();

  // The first passkey still signs in, here on /admin.
  await owner.page.goto(`${base}/admin`);
  const ok = await submit(owner.page, '#passkey-login button[type=submit]');
  assert.equal(new URL(ok.url()).pathname, '/admin');
  assert.equal(await owner.page.locator('#events').count(), 1, 'the dashboard is shown');
  const events = await owner.page.locator('#events tr[data-event]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-event')));
  for (const e of ['passkey.add', 'passkey.remove', 'login.failure']) assert.ok(events.includes(e), `${e} in ${events}`);
});

test('passkey pages are not offered at an IP address, and the script is served from Gatehouse itself', async () => {
  const setup = await get(`${h.base}/passkeys/setup`, { accept: 'text/html' });
  assert.equal(setup.status, 400);
  assert.match(setup.text, /host name/);
  const script = await get(`${base}/passkey.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type'), /javascript/);
  assert.match(script.text, /navigator\.credentials\.get/);
});
