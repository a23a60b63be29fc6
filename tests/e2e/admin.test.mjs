// The admin page in a real browser (Debian's Chromium driven by playwright-core), its CSRF
// protection, the audit log, and the structured request log that `wrangler tail` shows.
// One worker for the whole file; the tests run in order and build on each other's state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startHarness } from './harness.mjs';
import { get, initializeBody, manualFlow, mcpPost, postForm, refresh, register } from './oauth.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let h;
let userDataDir;
let context;
let page;
// Manual flows: `revoked` gets its grant revoked, `deleted` its client deleted, `kept` is left alone.
let revoked;
let deleted;
let kept;
/** Every secret value issued or used during the file: none may reach the log. */
const secrets = [];

function remember(flow) {
  secrets.push(flow.code, flow.pkce.verifier, flow.token.json.access_token, flow.token.json.refresh_token);
  return flow;
}

async function flow() {
  const f = await manualFlow(h);
  assert.equal(f.token.status, 200, f.token.text);
  return remember(f);
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: bash scripts/setup.sh installs Debian's chromium`);
  h = await startHarness({ name: 'admin', logLevel: 'log' });
  secrets.push(h.password);
  userDataDir = mkdtempSync(join(tmpdir(), 'gatehouse-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  page = context.pages()[0] ?? (await context.newPage());
  [revoked, deleted, kept] = [await flow(), await flow(), await flow()];
});

after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await h?.stop();
});

const grantRow = (clientId) => page.locator('#grants tr', { has: page.locator(`text=${clientId}`) });
const clientRow = (clientId) => page.locator(`#clients tr[data-client="${clientId}"]`);

/** Cookies of the browser as a Cookie header, for the hand-made requests below. */
async function browserCookies() {
  const cookies = await context.cookies();
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

test('/admin without a session shows the sign-in form and no data', async () => {
  const r = await get(`${h.base}/admin`, { accept: 'text/html' });
  assert.equal(r.status, 200);
  assert.match(r.text, /type="password"/);
  assert.ok(!r.text.includes(revoked.client.client_id), 'a client id is shown to a stranger');
  assert.ok(!r.text.includes('gr_'), 'a grant id is shown to a stranger');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
});

test('a wrong password on /admin is refused in the browser', async () => {
  await page.goto(`${h.base}/admin`);
  await page.fill('input[name=password]', 'not-the-owner-password');
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  assert.match(await page.locator('[role=alert]').innerText(), /not right/);
  assert.equal(await page.locator('#clients').count(), 0);
});

test('the owner signs in at /admin in Chromium and sees the clients and grants of manual flows', async () => {
  await page.goto(`${h.base}/admin`);
  await page.fill('input[name=password]', h.password);
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(new URL(resp.url()).pathname, '/admin');
  assert.equal(resp.status(), 200);

  // Chromium kept the __Host- cookies, which are Secure, on http://127.0.0.1 (a potentially
  // trustworthy origin): without them there would be no session.
  const names = (await context.cookies()).filter((c) => c.secure).map((c) => c.name);
  assert.ok(names.includes('__Host-gatehouse-session'), `secure cookies: ${names}`);
  assert.ok(names.includes('__Host-gatehouse-browser'), `secure cookies: ${names}`);

  for (const f of [revoked, deleted, kept]) {
    const row = clientRow(f.client.client_id);
    assert.equal(await row.count(), 1, `client ${f.client.client_id} listed`);
    const text = await row.innerText();
    assert.match(text, /gatehouse e2e/);
    assert.match(text, /unverified/);
    assert.match(text, /127\.0\.0\.1/, 'redirect host');
    assert.doesNotMatch(text, /never/, 'a token was issued, so "last used" is set');
    assert.equal(await grantRow(f.client.client_id).count(), 1, `grant of ${f.client.client_id} listed`);
  }
  if (process.env.GATEHOUSE_E2E_SCREENSHOT) await page.screenshot({ path: process.env.GATEHOUSE_E2E_SCREENSHOT, fullPage: true });
});

test('a client-chosen name is shown as text, not markup, and marked unverified', async () => {
  const name = '<img src=x onerror="document.title=1"><b>Evil</b>';
  const reg = await register(h.base, { client_name: name });
  assert.equal(reg.status, 201, reg.text);
  await page.reload();
  const row = clientRow(reg.json.client_id);
  assert.ok((await row.innerText()).includes(`${name} (unverified)`), await row.innerText());
  assert.equal(await row.locator('img, b').count(), 0, 'the name became elements');
  assert.notEqual(await page.title(), '1');
});

test('a refresh shows as "last refresh"; revoking the grant in the browser kills the refresh token', async () => {
  const first = await refresh(h, revoked.client.client_id, revoked.token.json.refresh_token);
  assert.equal(first.status, 200, first.text);
  secrets.push(first.json.access_token, first.json.refresh_token);
  await page.reload();
  const row = grantRow(revoked.client.client_id);
  assert.doesNotMatch(await row.innerText(), /never/, 'last refresh recorded');

  await Promise.all([page.waitForNavigation(), row.locator('button', { hasText: 'Revoke' }).click()]);
  assert.equal(new URL(page.url()).pathname, '/admin');
  assert.equal(await grantRow(revoked.client.client_id).count(), 0, 'the revoked grant is no longer listed');
  assert.equal(await grantRow(kept.client.client_id).count(), 1, 'other grants stay');

  const after = await refresh(h, revoked.client.client_id, first.json.refresh_token);
  assert.equal(after.status, 400, after.text);
  assert.equal(after.json.error, 'invalid_grant');
});

test('deleting a client in the browser makes its /token answer 401 invalid_client', async () => {
  const row = clientRow(deleted.client.client_id);
  await Promise.all([page.waitForNavigation(), row.locator('button', { hasText: 'Delete' }).click()]);
  assert.equal(await clientRow(deleted.client.client_id).count(), 0, 'the client is gone from the page');
  assert.equal(await grantRow(deleted.client.client_id).count(), 0, 'and so is its grant');
  assert.equal(await clientRow(kept.client.client_id).count(), 1, 'other clients stay');

  const r = await refresh(h, deleted.client.client_id, deleted.token.json.refresh_token);
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.error, 'invalid_client');
  const ok = await refresh(h, kept.client.client_id, kept.token.json.refresh_token);
  assert.equal(ok.status, 200, `the kept client still refreshes: ${ok.text}`);
  secrets.push(ok.json.access_token, ok.json.refresh_token);
  kept.token.json.refresh_token = ok.json.refresh_token;
});

test('the audit log on /admin shows logins, registrations, consents, the revocation and the deletion', async () => {
  await page.reload();
  const events = await page.locator('#events tr[data-event]').evaluateAll((rows) => rows.map((r) => ({
    event: r.getAttribute('data-event'),
    text: r.innerText,
  })));
  const names = events.map((e) => e.event);
  for (const name of ['client.register', 'login.success', 'login.failure', 'consent.approve', 'grant.revoke', 'client.delete']) {
    assert.ok(names.includes(name), `${name} missing from ${names}`);
  }
  assert.equal(names[0], 'client.delete', 'newest first');
  const revocation = events.find((e) => e.event === 'grant.revoke');
  assert.match(revocation.text, new RegExp(revoked.client.client_id));
  assert.match(revocation.text, /\bby=admin\b/);
  const deletion = events.find((e) => e.event === 'client.delete');
  assert.match(deletion.text, new RegExp(deleted.client.client_id));
  const pageText = await page.content();
  for (const s of secrets) assert.ok(!pageText.includes(s), 'a secret is shown on the admin page');
});

test('an admin POST without, or with a wrong, CSRF token is refused and changes nothing', async () => {
  const cookie = await browserCookies();
  const grantId = await grantRow(kept.client.client_id).getAttribute('data-grant');
  assert.match(grantId ?? '', /^gr_/);
  const action = { action: 'revoke_grant', grant: grantId };
  for (const [label, form, headers] of [
    ['no token', action, { cookie }],
    ['a wrong token', { ...action, csrf: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, { cookie }],
    ['no cookies (another site)', { ...action, csrf: await page.locator('input[name=csrf]').first().inputValue() }, {}],
  ]) {
    const r = await postForm(`${h.base}/admin`, form, { accept: 'text/html', ...headers });
    assert.ok([400, 401, 403].includes(r.status), `${label}: ${r.status}`);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
  }
  await page.reload();
  assert.equal(await grantRow(kept.client.client_id).count(), 1, 'the grant was not revoked');
  const stillWorks = await refresh(h, kept.client.client_id, kept.token.json.refresh_token);
  assert.equal(stillWorks.status, 200, stillWorks.text);
  secrets.push(stillWorks.json.access_token, stillWorks.json.refresh_token);
});

test('request log lines are JSON with route, method, status, client id and latency, and hold no secret', async () => {
  const authorization = `Bearer ${kept.token.json.access_token}`;
  const mcp = await mcpPost(h.mcpUrl, initializeBody(), { authorization });
  assert.equal(mcp.status, 200, mcp.text);
  // Refused after its token verified: logged with the token's client (a success is not, by default).
  const foreign = await mcpPost(h.mcpUrl, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization, 'mcp-session-id': 'not-a-session-of-this-grant' });
  assert.equal(foreign.status, 404, foreign.text);
  const bad = await get(`${h.base}/authorize?client_id=gh_unknown_for_the_log&code=should-not-be-logged`);
  assert.equal(bad.status, 400, bad.text);

  // Log lines may trail the responses by a moment: read until the MCP request's line is there.
  let log = '';
  let lines = [];
  for (let i = 0; i < 50; i++) {
    log = readFileSync(h.logFile, 'utf8');
    lines = log.split('\n').flatMap((l) => {
      const at = l.indexOf('{"');
      if (at < 0) return [];
      try {
        return [JSON.parse(l.slice(at))];
      } catch {
        return [];
      }
    });
    if (lines.some((l) => l.route === 'mcp' && l.client_id === kept.client.client_id)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const requests = lines.filter((l) => 'route' in l);
  assert.ok(requests.length >= 10, `request lines: ${requests.length}\n${log.slice(-2000)}`);
  for (const l of requests) {
    assert.equal(typeof l.route, 'string');
    assert.match(l.method, /^[A-Z]+$/);
    assert.equal(typeof l.status, 'number');
    assert.equal(typeof l.ms, 'number');
    assert.ok(!('path' in l) && !('query' in l), JSON.stringify(l));
  }
  const has = (pred, what) => assert.ok(requests.some(pred), `no request line for ${what}`);
  has((l) => l.route === 'mcp' && l.status === 404 && l.client_id === kept.client.client_id, 'the refused MCP call with its token');
  assert.ok(!requests.some((l) => l.route === 'mcp' && l.status < 400), 'forwarded successes have no line (LOG_MCP_SUCCESSES is off)');
  has((l) => l.route === 'token' && l.status === 200 && l.client_id === kept.client.client_id, 'a token request');
  has((l) => l.route === 'register' && l.status === 201 && l.client_id === deleted.client.client_id, 'a registration');
  has((l) => l.route === 'authorize' && l.status === 400 && l.client_id === 'gh_unknown_for_the_log', 'a bad authorize request');
  has((l) => l.route === 'admin_post' && l.status === 303, 'an admin action');
  has((l) => l.route === 'admin_post' && l.status === 403, 'a refused admin action');

  const audits = lines.filter((l) => 'audit' in l).map((l) => l.audit);
  for (const name of ['client.register', 'login.failure', 'login.success', 'consent.approve', 'grant.revoke', 'client.delete']) {
    assert.ok(audits.includes(name), `audit line ${name} missing: ${audits}`);
  }

  // Nothing secret anywhere in the worker's whole output.
  assert.ok(secrets.length >= 15, `secrets tracked: ${secrets.length}`);
  for (const s of secrets) {
    assert.equal(typeof s, 'string');
    assert.ok(s.length >= 8);
    assert.ok(!log.includes(s), `the log contains a secret (${s.slice(0, 4)}…)`);
  }
  assert.ok(!log.includes('should-not-be-logged'), 'a query string reached the log');
  assert.ok(!log.includes('not-the-owner-password'), 'a wrong password reached the log');
});
