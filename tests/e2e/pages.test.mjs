// The owner's login and consent pages as a person sees them, in Debian's Chromium
// (playwright-core, never a downloaded browser): what the page says about the client (its
// name marked unverified, where the browser goes next, the scopes), and the error texts a
// person can meet (wrong password, an expired or used request, a request from another browser).
// The sign-in page's password form carries the decision ("Allow and sign in", "Deny"): a first
// authorization by password is GET /authorize and one POST /login; the consent page is what a
// browser already signed in sees. The last tests walk the same pages without a browser engine
// (owner.mjs) to count requests and look into D1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { startHarness } from './harness.mjs';
import { authorizeUrl, pkcePair, redeemCode, register } from './oauth.mjs';
import { Browser, fillForm, parseForms } from './owner.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const NAME = 'Pages <b>Test</b> Client';

let h;
let browser;
let callback; // the MCP client's loopback redirect URI (a real listener)
let server;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: bash scripts/setup.sh installs Debian's chromium`);
  h = await startHarness({ name: 'pages', vars: { SCOPES: 'mcp files:read' } });
  server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('client callback'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  callback = `http://127.0.0.1:${server.address().port}/callback`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  server?.close();
  await h?.stop();
});

/** A registered client and an open authorization request for it in `page`. */
async function openRequest(page, { scope = 'mcp files:read' } = {}) {
  const reg = await register(h.base, { client_name: NAME, redirect_uris: [callback] });
  assert.equal(reg.status, 201, reg.text);
  const state = randomBytes(8).toString('base64url');
  const pkce = pkcePair();
  const resp = await page.goto(authorizeUrl(h.base, {
    response_type: 'code', client_id: reg.json.client_id, redirect_uri: callback, state, scope,
    code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
  }));
  return { client: reg.json, state, pkce, resp, request: await page.locator('input[name=request]').first().inputValue() };
}

const ALLOW = 'form[action="/login"] button[value=approve]';

/** Signs `page`'s browser in by a first authorization ("Allow and sign in"): its next request shows the consent page. */
async function signIn(page) {
  await openRequest(page);
  await page.fill('input[name=password]', h.password);
  await submit(page, ALLOW);
  const back = new URL(page.url());
  assert.equal(`${back.origin}${back.pathname}`, callback);
}

/** The client got `access_denied` for the request sent with `state`, and no code. */
function assertDenied(back, state) {
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('code'), null);
}

async function submit(page, selector) {
  const [resp] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return resp;
}

const text = (page) => page.locator('body').innerText();

test('the login page shows the client name as unverified text, where the browser goes, and a password field', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const { resp } = await openRequest(page);
    assert.equal(resp.status(), 200);
    assert.equal(await page.locator('h1').innerText(), 'Sign in to Gatehouse');
    const body = await text(page);
    assert.ok(body.includes(`${NAME} (name chosen by the client, unverified)`), body);
    assert.equal(await page.locator('.box b').count(), 0, 'the client name became markup');
    assert.match(body, /After you decide, your browser goes to 127\.0\.0\.1\./);
    assert.match(body, /only redirects to this computer/, 'the loopback warning');
    assert.equal(await page.locator('input[type=password][name=password]').count(), 1);
    // The password form carries the decision, and the page says what the client may use.
    assert.equal(await page.locator(ALLOW).innerText(), 'Allow and sign in');
    assert.equal(await page.locator('form[action="/login"] button[value=deny]').innerText(), 'Deny');
    assert.equal(await page.locator('.box code').innerText(), 'files:read mcp');
    // At an IP address, no passkey is offered (an IP address cannot be an RP ID) and no script runs.
    assert.equal(await page.locator('#passkey-login').count(), 0);
    assert.doesNotMatch(resp.headers()['content-security-policy'], /script-src/);
  } finally {
    await context.close();
  }
});

test('a wrong password says so and shows the form again; the right one with Allow goes straight back to the client', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const { state } = await openRequest(page);
    await page.fill('input[name=password]', 'not the owner password');
    const wrong = await submit(page, ALLOW);
    assert.equal(wrong.status(), 401);
    assert.equal(await page.locator('[role=alert]').innerText(), 'That password is not right.');
    assert.match(await text(page), /Pages <b>Test<\/b> Client/, 'the client is still named');
    await page.fill('input[name=password]', h.password);
    await submit(page, ALLOW);
    const back = new URL(page.url());
    assert.equal(`${back.origin}${back.pathname}`, callback);
    assert.ok(back.searchParams.get('code'));
    assert.equal(back.searchParams.get('state'), state);
  } finally {
    await context.close();
  }
});

test('signed in, the consent page names the client, the redirect host and the scopes; Allow returns a code', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await signIn(page);
    const { state } = await openRequest(page);
    assert.equal(await page.locator('h1').innerText(), 'Allow access to your MCP server?');
    const body = await text(page);
    assert.ok(body.includes(`${NAME} (name chosen by the client, unverified)`), body);
    assert.match(body, /your browser goes to 127\.0\.0\.1/);
    assert.equal(await page.locator('.box code').innerText(), 'files:read mcp', 'both scopes, as granted');
    assert.equal(await page.locator('button[value=approve]').innerText(), 'Allow');
    assert.equal(await page.locator('button[value=deny]').innerText(), 'Deny');
    await submit(page, 'button[value=approve]');
    const back = new URL(page.url());
    assert.equal(`${back.origin}${back.pathname}`, callback);
    assert.ok(back.searchParams.get('code'));
    assert.equal(back.searchParams.get('state'), state);
  } finally {
    await context.close();
  }
});

test('Deny on the sign-in page, with the password, sends the person back to the client with access_denied', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const { state } = await openRequest(page, { scope: 'mcp' });
    await page.fill('input[name=password]', h.password);
    await submit(page, 'form[action="/login"] button[value=deny]');
    const back = new URL(page.url());
    assert.equal(`${back.origin}${back.pathname}`, callback);
    assertDenied(back, state);
  } finally {
    await context.close();
  }
});

test('Deny on the consent page sends the person back to the client with access_denied', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await signIn(page);
    const { state } = await openRequest(page, { scope: 'mcp' });
    assert.equal(await page.locator('.box code').innerText(), 'mcp');
    await submit(page, 'button[value=deny]');
    const back = new URL(page.url());
    assertDenied(back, state);
  } finally {
    await context.close();
  }
});

test('a used request shows "expired", in words a person can act on', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await signIn(page);
    const { request } = await openRequest(page);
    assert.equal(await page.locator('h1').innerText(), 'Allow access to your MCP server?');
    const consentUrl = `${h.base}/consent?request=${request}`;
    await submit(page, 'button[value=approve]');
    const again = await page.goto(consentUrl);
    assert.equal(again.status(), 400);
    assert.equal(await page.locator('h1').innerText(), 'This sign-in request has expired');
    assert.match(await text(page), /already used, or it is more than 10 minutes old\. Start connecting again from your MCP client\./);
    assert.ok(consentUrl.includes(request));
  } finally {
    await context.close();
  }
});

test('a request opened in another browser is refused: "Wrong browser"; without cookies: "Cookies are needed"', async () => {
  const first = await browser.newContext();
  const second = await browser.newContext();
  try {
    const page = await first.newPage();
    const { request } = await openRequest(page);
    const other = await second.newPage();
    const noCookie = await other.goto(`${h.base}/consent?request=${request}`);
    assert.equal(noCookie.status(), 400);
    assert.equal(await other.locator('h1').innerText(), 'Cookies are needed');
    await openRequest(other); // the second browser gets its own cookie
    const wrong = await other.goto(`${h.base}/consent?request=${request}`);
    assert.equal(wrong.status(), 403);
    assert.equal(await other.locator('h1').innerText(), 'Wrong browser');
    assert.match(await text(other), /started in another browser/);
    // The first browser's request is untouched.
    await page.fill('input[name=password]', h.password);
    await submit(page, ALLOW);
    const back = new URL(page.url());
    assert.equal(`${back.origin}${back.pathname}`, callback);
    assert.ok(back.searchParams.get('code'));
  } finally {
    await first.close();
    await second.close();
  }
});

// ---- the requests and what D1 holds, without a browser engine -----------------------------

/** A new client with `callback` and the sign-in page of a request for it in a new `Browser`. */
async function signInPage() {
  const reg = await register(h.base, { client_name: NAME, redirect_uris: [callback] });
  assert.equal(reg.status, 201, reg.text);
  const b = new Browser(h.base);
  const pkce = pkcePair();
  const state = randomBytes(8).toString('base64url');
  const page = await b.request(authorizeUrl(h.base, {
    response_type: 'code', client_id: reg.json.client_id, redirect_uri: callback, state,
    code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
  }));
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const form = parseForms(page.text).find((f) => f.action === '/login');
  assert.ok(form, 'the password form');
  return { client: reg.json, b, pkce, state, page, form };
}

const post = (s, form, values) => s.b.request(new URL(form.action, s.page.url), { method: 'POST', form: values });
const stored = async (table, clientId) => (await h.sql(`SELECT COUNT(*) AS n FROM ${table} WHERE client_id = '${clientId}'`))[0].n;
const steps = (b) => b.trace.map((t) => `${t.method} ${new URL(t.url).pathname}`);

test('a first authorization by password is GET /authorize and one POST /login, straight back to the client with a code that redeems', async () => {
  const s = await signInPage();
  const r = await post(s, s.form, fillForm(s.form, { password: h.password, decision: 'approve' }));
  assert.equal(r.status, 303, r.text.slice(0, 300));
  const back = new URL(r.location);
  assert.equal(`${back.origin}${back.pathname}`, callback);
  assert.equal(back.searchParams.get('state'), s.state);
  assert.match(r.headers.get('set-cookie') ?? '', /__Host-gatehouse-session=/, 'signed in by the same response');
  assert.deepEqual(steps(s.b), ['GET /authorize', 'POST /login']);
  const t = await redeemCode(h, { client: s.client, code: back.searchParams.get('code'), pkce: s.pkce, redirectUri: callback });
  assert.equal(t.status, 200, t.text);
  assert.ok(t.json.access_token);
});

test('"Deny" with the password: access_denied back to the client, no grant stored', async () => {
  const s = await signInPage();
  const r = await post(s, s.form, fillForm(s.form, { password: h.password, decision: 'deny' }));
  assert.equal(r.status, 303, r.text.slice(0, 300));
  const back = new URL(r.location);
  assert.equal(`${back.origin}${back.pathname}`, callback);
  assertDenied(back, s.state);
  assert.equal(await stored('grants', s.client.client_id), 0, 'no grant');
  assert.equal(await stored('auth_codes', s.client.client_id), 0, 'no code');
  const again = await post(s, s.form, fillForm(s.form, { password: h.password, decision: 'approve' }));
  assert.equal(again.status, 400, 'the denied request is spent');
  assert.equal(await stored('grants', s.client.client_id), 0, 'still no grant');
});

test('a wrong password with "Allow and sign in": the page again with 401, no code; a decision that is neither: 400', async () => {
  const s = await signInPage();
  const wrong = await post(s, s.form, fillForm(s.form, { password: 'not the owner password', decision: 'approve' }));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.location, null);
  assert.match(wrong.text, /That password is not right\./);
  assert.ok(!(wrong.headers.get('set-cookie') ?? '').includes('session'), 'not signed in');
  assert.ok(parseForms(wrong.text).some((f) => f.action === '/login'), 'the password form again');
  const odd = await post(s, s.form, { ...fillForm(s.form, { password: h.password }), decision: 'maybe' });
  assert.equal(odd.status, 400);
  assert.match(odd.text, /Choose Allow or Deny\./);
  assert.equal(await stored('grants', s.client.client_id), 0, 'no grant');
  assert.equal(await stored('auth_codes', s.client.client_id), 0, 'no code');
});

test('the sign-in form without a decision (the two-step way) still signs in and goes on to the consent page', async () => {
  const s = await signInPage();
  const { decision, ...signInOnly } = fillForm(s.form, { password: h.password });
  assert.equal(decision, 'approve', 'the form has the decision buttons');
  const r = await post(s, s.form, signInOnly);
  assert.equal(r.status, 303, r.text.slice(0, 300));
  assert.equal(new URL(r.location).pathname, '/consent');
  const consent = await s.b.request(r.location);
  assert.equal(consent.status, 200, consent.text.slice(0, 300));
  const form = parseForms(consent.text).find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === 'approve'));
  assert.equal(form.action, '/consent');
  const done = await s.b.request(new URL(form.action, consent.url), { method: 'POST', form: fillForm(form, { decision: 'approve' }) });
  assert.equal(done.status, 303, done.text.slice(0, 300));
  assert.ok(new URL(done.location).searchParams.get('code'));
  assert.deepEqual(steps(s.b), ['GET /authorize', 'POST /login', 'GET /consent', 'POST /consent']);
});
