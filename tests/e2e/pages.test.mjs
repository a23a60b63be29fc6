// The owner's login and consent pages as a person sees them, in Debian's Chromium
// (playwright-core, never a downloaded browser): what the page says about the client (its
// name marked unverified, where the browser goes next, the scopes), and the error texts a
// person can meet (wrong password, an expired or used request, a request from another browser).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { startHarness } from './harness.mjs';
import { authorizeUrl, pkcePair, register } from './oauth.mjs';

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
  const resp = await page.goto(authorizeUrl(h.base, {
    response_type: 'code', client_id: reg.json.client_id, redirect_uri: callback, state, scope,
    code_challenge: pkcePair().challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
  }));
  return { client: reg.json, state, resp, request: await page.locator('input[name=request]').first().inputValue() };
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
    // At an IP address, no passkey is offered (an IP address cannot be an RP ID) and no script runs.
    assert.equal(await page.locator('#passkey-login').count(), 0);
    assert.doesNotMatch(resp.headers()['content-security-policy'], /script-src/);
  } finally {
    await context.close();
  }
});

test('a wrong password says so and shows the form again; the right one leads to consent', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await openRequest(page);
    await page.fill('input[name=password]', 'not the owner password');
    const wrong = await submit(page, 'form[action="/login"] button[type=submit]');
    assert.equal(wrong.status(), 401);
    assert.equal(await page.locator('[role=alert]').innerText(), 'That password is not right.');
    assert.match(await text(page), /Pages <b>Test<\/b> Client/, 'the client is still named');
    await page.fill('input[name=password]', h.password);
    await submit(page, 'form[action="/login"] button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/consent');
  } finally {
    await context.close();
  }
});

test('the consent page names the client, the redirect host and the scopes; Allow returns a code', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const { state } = await openRequest(page);
    await page.fill('input[name=password]', h.password);
    await submit(page, 'form[action="/login"] button[type=submit]');
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

test('Deny sends the person back to the client with access_denied', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const { state } = await openRequest(page, { scope: 'mcp' });
    await page.fill('input[name=password]', h.password);
    await submit(page, 'form[action="/login"] button[type=submit]');
    assert.equal(await page.locator('.box code').innerText(), 'mcp');
    await submit(page, 'button[value=deny]');
    const back = new URL(page.url());
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), state);
    assert.equal(back.searchParams.get('code'), null);
  } finally {
    await context.close();
  }
});

test('a used request shows "expired", in words a person can act on', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const { request } = await openRequest(page);
    await page.fill('input[name=password]', h.password);
    await submit(page, 'form[action="/login"] button[type=submit]');
    const consentUrl = page.url();
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
    await submit(page, 'form[action="/login"] button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/consent');
  } finally {
    await first.close();
    await second.close();
  }
});
