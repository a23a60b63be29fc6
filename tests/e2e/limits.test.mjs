// Limits an attacker runs into, against the real worker in workerd with local D1 (issue 15):
//
//   guessing   the owner password and the passkey setup code: concurrent guesses (exactly the
//              limit is compared), the limit per IPv6 /64, the cap per pending request
//   bodies     a chunked POST that never ends is answered 413 while the client is still sending,
//              on every kind of non-MCP endpoint (raw socket, node:net)
//   budgets    pending sign-ins, passkey challenges and audit rows of refused sign-ins per source
//              and hour (rows counted in D1), and what the cron clears
//   passkeys   the list is the owner's only: people signed in through Access (even admins) get 403
//   sign-out   a copied session cookie stops working after "Sign out"; "Sign out everywhere" ends
//              every session
//
// Each test uses its own client addresses (CF-Connecting-IP, which wrangler dev passes through
// as Cloudflare sets it), so the per-source limits of one test do not touch another's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createServer } from 'node:http';
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

import { startHarness } from './harness.mjs';
import { Browser, fillForm, parseForms } from './owner.mjs';
import { LOOPBACK_REDIRECT, authorizeUrl, pkcePair, register } from './oauth.mjs';

const BUDGET = 6; // SOURCE_BUDGET_PER_HOUR for this worker
const ATTEMPTS = 5; // src/protocol/attempt_limit.rs: PASSWORD_PER_SOURCE, PASSWORD_PER_REQUEST, SETUP_CODE_PER_SOURCE
const SETUP_CODE = `setup-${randomBytes(12).toString('base64url')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- a Cloudflare Access stand-in (as in access.test.mjs): a team domain serving its certs ----
const AUD = randomBytes(32).toString('hex');
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const accessKey = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(32).toString('hex');
  return { privateKey, kid, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
})();
let team;
let fixture;
function accessAssertion(email) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { aud: [AUD], email, exp: now + 600, iat: now, nbf: now, iss: team, type: 'app', sub: randomBytes(8).toString('hex') };
  const input = `${b64url({ alg: 'RS256', kid: accessKey.kid, typ: 'JWT' })}.${b64url(claims)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(accessKey.privateKey).toString('base64url')}`;
}

let h;
let named; // http://localhost:<port>: passkeys need a host name, not an IP address
before(async () => {
  fixture = createServer((req, res) => {
    if (req.url === '/cdn-cgi/access/certs') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [accessKey.jwk] }));
    else res.writeHead(404).end();
  });
  await new Promise((r) => fixture.listen(0, '127.0.0.1', r));
  team = `http://127.0.0.1:${fixture.address().port}`;
  h = await startHarness({
    name: 'limits',
    testScheduled: true,
    logLevel: 'log', // the worker's request log: which status the worker itself answered
    secrets: { PASSKEY_SETUP_CODE: SETUP_CODE },
    vars: { SOURCE_BUDGET_PER_HOUR: String(BUDGET), CF_ACCESS_TEAM_DOMAIN: team, CF_ACCESS_AUD: AUD, ADMIN_SUBJECTS: 'access:admin@example.com' },
  });
  named = `http://localhost:${new URL(h.base).port}`;
});
after(async () => {
  await h?.stop();
  fixture?.close();
});

const from = (ip, base = h.base) => new Browser(base, { headers: { 'cf-connecting-ip': ip } });
const count = async (sql) => (await h.sql(sql))[0].n;
const tally = (statuses) => statuses.reduce((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});

/** A new client's sign-in page in `browser`: the password form and where to post it. */
async function signInForm(browser) {
  const reg = await register(h.base);
  assert.equal(reg.status, 201, reg.text);
  const url = authorizeUrl(h.base, {
    response_type: 'code', client_id: reg.json.client_id, redirect_uri: LOOPBACK_REDIRECT, state: 's',
    code_challenge: pkcePair().challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
  });
  const page = await browser.request(url);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const form = parseForms(page.text).find((f) => f.inputs.some((i) => i.name === 'password'));
  assert.ok(form, 'the sign-in page has a password form');
  return { action: new URL(form.action, page.url).href, form };
}

const tryPassword = (browser, { action, form }, password) => browser.request(action, { method: 'POST', form: fillForm(form, { password }) });

// ---- guessing ---------------------------------------------------------------------------------

test(`25 concurrent wrong passwords on one sign-in form: exactly ${ATTEMPTS} are compared (401), the rest refused unchecked (429)`, async () => {
  const ip = '198.51.100.21';
  const browser = from(ip);
  const login = await signInForm(browser);
  const answers = await Promise.all(Array.from({ length: 25 }, () => tryPassword(browser, login, 'not-the-password')));
  const statuses = tally(answers.map((r) => r.status));
  assert.deepEqual(statuses, { 401: ATTEMPTS, 429: 25 - ATTEMPTS }, JSON.stringify(statuses));
  assert.equal(await count(`SELECT COUNT(*) AS n FROM audit_events WHERE event = 'login.failure' AND detail LIKE '%"${ip}"%'`), ATTEMPTS, 'one audit row per compared password');
  assert.equal((await tryPassword(browser, login, h.password)).status, 429, 'now even the right password waits');
});

test(`wrong passwords from addresses of one IPv6 /64 count as one source: after ${ATTEMPTS}, the right password from a sixth address is refused`, async () => {
  for (let i = 1; i <= ATTEMPTS; i++) {
    const browser = from(`2001:db8:aa:1::${i}`);
    assert.equal((await tryPassword(browser, await signInForm(browser), 'not-the-password')).status, 401);
  }
  const last = from('2001:db8:aa:1:ffff:ffff:ffff:fffe');
  assert.equal((await tryPassword(last, await signInForm(last), h.password)).status, 429, 'same /64');
  const neighbour = from('2001:db8:aa:2::1');
  assert.equal((await tryPassword(neighbour, await signInForm(neighbour), h.password)).status, 303, 'the next /64 is another source');
});

test(`one pending request takes ${ATTEMPTS} wrong passwords in all, from however many sources`, async () => {
  const browser = from('192.0.2.1');
  const login = await signInForm(browser);
  for (let i = 1; i <= ATTEMPTS; i++) {
    browser.headers['cf-connecting-ip'] = `192.0.2.${10 + i}`;
    assert.equal((await tryPassword(browser, login, 'not-the-password')).status, 401);
  }
  browser.headers['cf-connecting-ip'] = '192.0.2.99';
  assert.equal((await tryPassword(browser, login, h.password)).status, 429, 'a fresh source, the same request');
});

test('POST /login reserves its attempt in the round trip that reads the pending request: only for that request, from its own browser and form', async () => {
  // The reservation is one statement of the read-ahead batch (issue 14, target 4), conditional on
  // the pending request being there for the form's browser; the checks of the form itself come first.
  const ip = '198.51.100.41';
  const owner = from(ip);
  const login = await signInForm(owner);
  const request = login.form.fields.request;
  assert.ok(request, 'the form names its pending request');
  const attempts = () => count(`SELECT COUNT(*) AS n FROM login_failures WHERE key IN ('login:${ip}', 'login-request:${request}')`);
  const post = (browser, values) => browser.request(login.action, { method: 'POST', form: { ...fillForm(login.form, { password: 'not-the-password' }), ...values } });

  const stranger = from(ip);
  await signInForm(stranger); // a cookie of its own
  assert.equal((await post(stranger, {})).status, 403, "another browser posting the owner's form");
  assert.equal((await post(owner, { csrf: `${login.form.fields.csrf}x` })).status, 403, 'an altered CSRF token');
  assert.equal((await post(owner, { decision: 'maybe' })).status, 400, 'a decision that is neither');
  assert.equal(await attempts(), 0, 'none of these recorded an attempt');

  assert.equal((await post(owner, {})).status, 401, 'a wrong password from the form itself');
  assert.equal(await attempts(), 2, 'one attempt under the source and one under the request');
  assert.equal((await post(owner, { password: h.password })).status, 303, 'the right password signs in and approves');
  assert.equal(await attempts(), 2, "the right password's own attempt is released; the wrong one stays");
  const replay = await post(owner, {});
  assert.equal(replay.status, 400, 'the request is used: an expired page');
  assert.match(replay.text, /expired/);
  assert.equal(await attempts(), 2, 'a used request records no attempt');
});

test(`the passkey setup code: 12 concurrent wrong codes, exactly ${ATTEMPTS} compared; and one /64 is one source`, async () => {
  const challenge = (browser, code) =>
    browser.request(`${named}/passkeys/challenge`, { method: 'POST', form: { purpose: 'register', setup_code: code } });
  const browser = from('198.51.100.31', named);
  assert.equal((await browser.request(`${named}/passkeys/setup`)).status, 200, 'the browser cookie');
  const statuses = tally((await Promise.all(Array.from({ length: 12 }, () => challenge(browser, 'wrong-wrong-wrong')))).map((r) => r.status));
  assert.deepEqual(statuses, { 403: ATTEMPTS, 429: 12 - ATTEMPTS }, JSON.stringify(statuses));
  for (let i = 1; i <= ATTEMPTS; i++) {
    browser.headers['cf-connecting-ip'] = `2001:db8:bb:1::${i}`;
    assert.equal((await challenge(browser, 'wrong-wrong-wrong')).status, 403);
  }
  browser.headers['cf-connecting-ip'] = '2001:db8:bb:1:abcd::1';
  assert.equal((await challenge(browser, SETUP_CODE)).status, 429, 'same /64');
  browser.headers['cf-connecting-ip'] = '2001:db8:bb:2::1';
  assert.equal((await challenge(browser, SETUP_CODE)).status, 200, 'the next /64');
});

// ---- request bodies ---------------------------------------------------------------------------

const CHUNK = 64 * 1024;
const SEND_AT_MOST = 64 << 20;
const PACE_MS = 5; // one chunk per 5 ms, about 13 MB/s

/**
 * POSTs a chunked body that never ends (the terminating empty chunk is never sent) over a raw
 * socket: one chunk every PACE_MS until the server answers, SEND_AT_MOST bytes are written, or
 * 10 s pass. Returns { status, sent, stillSending, head }: stillSending says the answer came
 * before this side stopped writing.
 */
function endlessChunkedPost(base, path) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let sent = 0;
    let head = '';
    let done = false;
    let pump;
    const finish = (status) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(pump);
      socket.destroy();
      resolve({ status, sent, stillSending: sent < SEND_AT_MOST, head });
    };
    const timer = setTimeout(() => finish(null), 10_000);
    const piece = Buffer.concat([Buffer.from(`${CHUNK.toString(16)}\r\n`), Buffer.alloc(CHUNK, 'a'), Buffer.from('\r\n')]);
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n`);
      pump = setInterval(() => {
        // Never more than 1 MB queued on this side: the server's reading sets the pace.
        if (sent < SEND_AT_MOST && socket.writableLength < 1 << 20) {
          socket.write(piece);
          sent += CHUNK;
        }
      }, PACE_MS);
    });
    socket.on('data', (d) => {
      head += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m && head.includes('\r\n\r\n')) finish(Number(m[1]));
    });
    socket.on('error', () => finish(Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]) || null));
  });
}

/** How many times the worker's request log says it answered `route` with `status`. */
const logged = (route, status) => readFileSync(h.logFile, 'utf8').split(`"route":"${route}","status":${status}`).length - 1;

async function loggedAfter(route, status, before) {
  for (let i = 0; i < 40 && logged(route, status) <= before; i++) await sleep(50);
  return logged(route, status) - before;
}

// wrangler dev's own ProxyWorker, in front of the worker, sometimes loses the worker's early
// answer to a request whose body is still arriving ("Error inside ProxyWorker … Network
// connection lost": a 500 from it, or a reset). A deployed worker has no such proxy. So each
// attempt must show the worker itself answering 413 (its request log), and some attempt must
// deliver that 413 to the client while it is still sending.
test('a chunked POST that never ends is answered 413 while the client is still sending, on every kind of endpoint', async (t) => {
  const sentWhenAnswered = [];
  for (const [path, route] of [['/token', 'token'], ['/register', 'register'], ['/revoke', 'revoke'], ['/admin', 'admin_post'], ['/consent', 'consent_decide'], ['/passkeys/challenge', 'passkey_challenge']]) {
    const tries = [];
    for (let attempt = 0; attempt < 3 && !tries.some((r) => r.status === 413); attempt++) {
      const before = logged(route, 413);
      const r = await endlessChunkedPost(h.base, path);
      tries.push(r);
      assert.equal(await loggedAfter(route, 413, before), 1, `${path}: the worker answered 413 (${JSON.stringify({ ...r, head: r.head.slice(0, 200) })})`);
    }
    const answered = tries.find((r) => r.status === 413);
    assert.ok(answered, `${path}: no 413 reached the client in 3 tries: ${JSON.stringify(tries.map((r) => [r.status, r.head.slice(0, 200)]))}`);
    assert.ok(answered.stillSending, `${path}: answered only after ${answered.sent} bytes, when the client had stopped`);
    sentWhenAnswered.push(`${path} ${Math.round(answered.sent / 1024)} KB${tries.length > 1 ? ` (try ${tries.length})` : ''}`);
  }
  const ok = await fetch(`${h.base}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(ok.status, 200, 'the worker still answers');
  t.diagnostic(`sent when the 413 arrived: ${sentWhenAnswered.join(', ')}`);
});

// ---- budgets ----------------------------------------------------------------------------------

test(`budgets: one source makes at most ${BUDGET} pending sign-ins, passkey challenges and refusal audit rows per hour; past that, 429 (or no row) and nothing stored`, async () => {
  // Budgets count per clock hour: start well clear of the next hour, so that every count of
  // this test falls in one hour (a bounded wait, at most 4 minutes).
  const toNextHour = 3600 - (Math.floor(Date.now() / 1000) % 3600);
  if (toNextHour < 240) await sleep((toNextHour + 2) * 1000);
  // Pending sign-ins at /authorize.
  const pendingBefore = await count('SELECT COUNT(*) AS n FROM pending_authorizations');
  const reg = await register(h.base);
  const authorize = (browser, headers = {}) => {
    Object.assign(browser.headers, headers);
    return browser.request(authorizeUrl(h.base, {
      response_type: 'code', client_id: reg.json.client_id, redirect_uri: LOOPBACK_REDIRECT, state: 's',
      code_challenge: pkcePair().challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
    }));
  };
  const pages = [];
  for (let i = 0; i < BUDGET + 3; i++) pages.push(await authorize(from('203.0.113.77')));
  assert.deepEqual(tally(pages.map((p) => p.status)), { 200: BUDGET, 429: 3 });
  assert.ok(pages.at(-1).headers.get('retry-after'), 'Retry-After on the 429');
  assert.equal(await count('SELECT COUNT(*) AS n FROM pending_authorizations') - pendingBefore, BUDGET, 'rows written');
  assert.equal((await authorize(from('203.0.113.78'))).status, 200, 'another source has its own budget');

  // Passkey challenges.
  const browser = from('203.0.113.79', named);
  await browser.request(`${named}/passkeys/setup`);
  const challengesBefore = await count('SELECT COUNT(*) AS n FROM passkey_challenges');
  const challenges = [];
  for (let i = 0; i < BUDGET + 3; i++) {
    challenges.push((await browser.request(`${named}/passkeys/challenge`, { method: 'POST', form: { purpose: 'login' } })).status);
  }
  assert.deepEqual(tally(challenges), { 200: BUDGET, 429: 3 });
  assert.equal(await count('SELECT COUNT(*) AS n FROM passkey_challenges') - challengesBefore, BUDGET, 'rows written');

  // Audit rows of refused sign-ins: a made-up Access assertion, again and again.
  const ip = '203.0.113.80';
  for (let i = 0; i < BUDGET + 3; i++) {
    const refused = await authorize(from(ip), { 'cf-access-jwt-assertion': 'e30.e30.AAAA' });
    assert.equal(refused.status, 400, 'each one is still refused with a page');
  }
  assert.equal(await count(`SELECT COUNT(*) AS n FROM audit_events WHERE event = 'login.failure' AND detail LIKE '%"${ip}"%'`), BUDGET, 'audit rows written');
  assert.ok(await count("SELECT COUNT(*) AS n FROM source_counts WHERE kind = 'refusal_audit'") >= 1);
});

test('the cron removes past budget counts, expired sign-outs and old attempts, and keeps current ones', async () => {
  const now = Math.floor(Date.now() / 1000);
  await h.sql(
    `INSERT INTO source_counts (kind, source, window_start, n) VALUES ('pending', 'old-source', 3600, 9);
     INSERT INTO session_revocations (session, revoked_at, expires_at) VALUES ('expired-session', 1, 2), ('live-session', ${now}, ${now + 3600});
     INSERT INTO login_failures (key, at) VALUES ('login:old-source', 5), ('login:live-source', ${now})`,
  );
  const cron = await h.runCron();
  assert.equal(cron.status, 200, cron.text);
  assert.equal(await count("SELECT COUNT(*) AS n FROM source_counts WHERE source = 'old-source'"), 0);
  assert.ok(await count('SELECT COUNT(*) AS n FROM source_counts') >= 1, "this hour's counts stay");
  assert.deepEqual((await h.sql('SELECT session FROM session_revocations ORDER BY session')).map((r) => r.session).filter((s) => s.endsWith('-session')), ['live-session']);
  assert.deepEqual((await h.sql("SELECT key FROM login_failures WHERE key LIKE '%-source'")).map((r) => r.key), ['login:live-source']);
});

// ---- the passkey list -------------------------------------------------------------------------

/** Signs `browser` in at /admin with the owner password; returns the dashboard page. */
async function ownerSignIn(browser, base = h.base) {
  const page = await browser.request(`${base}/admin`);
  const form = parseForms(page.text).find((f) => f.inputs.some((i) => i.name === 'password'));
  assert.ok(form, `a sign-in form at /admin: ${page.text.slice(0, 300)}`);
  const posted = await browser.request(`${base}/admin`, { method: 'POST', form: fillForm(form, { password: h.password }) });
  assert.equal(posted.status, 303, posted.text.slice(0, 300));
  const dash = await browser.request(`${base}/admin`);
  assert.match(dash.text, /Signed in as/);
  return dash;
}

test('/passkeys shows the passkey list to the owner only: people signed in through Access, admins included, get 403', async () => {
  await h.sql("INSERT INTO passkeys (credential_id, alg, x, y, sign_count, name, created_at) VALUES ('cred-e2e', 'ES256', 'x', 'y', 0, 'owner-laptop-key', 0)");
  for (const email of ['someone@example.com', 'admin@example.com']) {
    const browser = from('198.51.100.41', named);
    browser.headers['cf-access-jwt-assertion'] = accessAssertion(email);
    const signedIn = await browser.request(`${named}/admin`);
    assert.equal(signedIn.status, 303, `${email}: the Access sign-in sets a session: ${signedIn.text.slice(0, 300)}`);
    delete browser.headers['cf-access-jwt-assertion'];
    const page = await browser.request(`${named}/passkeys`);
    assert.equal(page.status, 403, `${email}: ${page.text.slice(0, 300)}`);
    assert.ok(!page.text.includes('owner-laptop-key') && !page.text.includes('id="passkeys"'), `${email}: the list is not shown`);
    assert.match(page.text, new RegExp(`signed in as access:${email.replaceAll('.', '\\.')}`));
  }
  const owner = from('198.51.100.42', named);
  await ownerSignIn(owner, named);
  const list = await owner.request(`${named}/passkeys`);
  assert.equal(list.status, 200);
  assert.match(list.text, /owner-laptop-key/, 'the owner sees it');
});

// ---- sign-out ---------------------------------------------------------------------------------

/** Presses one of the dashboard's action buttons (`logout`, `logout_everywhere`). */
async function press(browser, dash, action) {
  const form = parseForms(dash.text).find((f) => f.fields.action === action);
  assert.ok(form, `a ${action} button on the dashboard`);
  return browser.request(`${h.base}/admin`, { method: 'POST', form: form.fields });
}

const shows = (cookie) => fetch(`${h.base}/admin`, { headers: { cookie, accept: 'text/html' }, redirect: 'manual', signal: AbortSignal.timeout(10_000) }).then((r) => r.text());

test('"Sign out" revokes the session: a copied session cookie stops working', async () => {
  const browser = from('198.51.100.51');
  const dash = await ownerSignIn(browser);
  const copied = browser.jar.header();
  assert.match(await shows(copied), /Signed in as/, 'the copy works before sign-out');
  const out = await press(browser, dash, 'logout');
  assert.equal(out.status, 303);
  const page = await shows(copied);
  assert.doesNotMatch(page, /Signed in as/, 'the copy is signed out too');
  assert.match(page, /type="password"/);
});

test('"Sign out everywhere" ends every session, in every browser; signing in again works', async () => {
  const [one, two] = [from('198.51.100.52'), from('198.51.100.53')];
  const dash = await ownerSignIn(one);
  await ownerSignIn(two);
  const copies = [one.jar.header(), two.jar.header()];
  const out = await press(one, dash, 'logout_everywhere');
  assert.equal(out.status, 303, out.text.slice(0, 300));
  for (const [i, cookie] of copies.entries()) assert.doesNotMatch(await shows(cookie), /Signed in as/, `session ${i + 1} is ended`);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE event = 'logout.everywhere'"), 1);
  await sleep(1100); // sessions issued within the second of the sign-out are ended too
  await ownerSignIn(two);
});
