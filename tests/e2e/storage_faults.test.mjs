// Storage faults (issue 16 §2), end to end in workerd with local D1: the worker built with the
// `test-faults` feature (build-faults/, see src/edge/d1/faults.rs) fails D1 statements when a
// request asks it to. For each endpoint a failure is swept over every statement the request
// prepares, one run per statement: the answer is a 503 in the endpoint's own shape with
// Retry-After (or a success, where the failed write is one the endpoint may skip, such as the
// audit log), the same request retried with storage back succeeds, and nothing is left
// half-written or revoked. The native twin of the owner-walk and /token sweeps is
// src/testing/storage_faults.rs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startHarness, ROOT } from './harness.mjs';
import { Browser, parseForms, fillForm } from './owner.mjs';
import {
  LOOPBACK_REDIRECT, authorizeUrl, initializeBody, mcpPost, pkcePair, postForm, postJson, redeemCode, refresh, register,
} from './oauth.mjs';

const FAULT = 'x-gatehouse-test-fault';
const COUNT = 'x-gatehouse-test-statements';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bearer = (token) => ({ authorization: `Bearer ${token}` });
const failAfter = (n) => ({ [FAULT]: `fail-after=${n}` });
const statements = (r) => Number(r.headers.get(COUNT));
/** Sequential round trips to D1 (a batch is one): issue 14 counts them per endpoint. */
const trips = (r) => Number(r.headers.get('x-gatehouse-test-round-trips'));

/** A refusal for storage: 503, Retry-After, and the OAuth error JSON or an HTML page. */
function assertUnavailable(r, where) {
  assert.equal(r.status, 503, `${where}: ${r.status} ${r.text?.slice(0, 300)}`);
  assert.ok(r.headers.get('retry-after'), `${where}: a 503 says when to retry`);
  const type = r.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    assert.equal(JSON.parse(r.text).error, 'temporarily_unavailable', where);
  } else {
    assert.match(type, /text\/html/, where);
  }
}

function newAuthorization(h, client) {
  const pkce = pkcePair();
  const url = authorizeUrl(h.base, {
    response_type: 'code', client_id: client.client_id, redirect_uri: LOOPBACK_REDIRECT,
    state: randomBytes(8).toString('base64url'), code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
  });
  return { url, pkce };
}

let walks = 0;

/**
 * The owner's walk (GET /authorize, then the sign-in page's password form with "Allow and sign
 * in", which signs in and approves in one POST /login) in a new browser, with `fault`
 * ({ step, plan }) sent on request number `step` only. A 503 there is checked and the same
 * request sent again without the fault, as a person would press reload. Each walk comes from an
 * address of its own: a storage failure of the write that releases a right password's reserved
 * attempt leaves that attempt counted, and the sweep fails that write many times in a row.
 * Returns { code, pkce, counts (statements per request), trips (round trips per request),
 * roundTrips (as text), injected (a 503 was seen) }.
 */
async function ownerWalk(h, client, fault = null) {
  const { url, pkce } = newAuthorization(h, client);
  const browser = new Browser(h.base);
  walks++;
  const source = { 'cf-connecting-ip': `198.18.${(walks >> 8) & 255}.${walks & 255}` };
  let req = { url, method: 'GET' };
  const counts = [];
  const perRequest = [];
  const roundTrips = [];
  let injected = false;
  for (let step = 0; step < 10; step++) {
    browser.headers = fault?.step === step ? { ...source, [FAULT]: fault.plan } : source;
    let page = await browser.request(req.url, req);
    counts.push(statements(page));
    perRequest.push([`${req.method} ${new URL(req.url).pathname}`, trips(page)]);
    roundTrips.push(`${req.method} ${new URL(req.url).pathname}: ${trips(page)}`);
    if (fault?.step === step && page.status === 503) {
      assertUnavailable(page, `owner walk, request ${step} (${req.method} ${new URL(req.url).pathname}), ${fault.plan}`);
      assert.ok(!(page.headers.get('set-cookie') ?? '').includes('session'), 'a refused sign-in sets no session');
      injected = true;
      browser.headers = source;
      page = await browser.request(req.url, req);
    }
    if (page.status >= 300 && page.status < 400) {
      const to = new URL(page.location);
      if (to.origin !== new URL(h.base).origin) return { code: to.searchParams.get('code'), pkce, counts, trips: perRequest, roundTrips, injected };
      req = { url: page.location, method: 'GET' };
      continue;
    }
    const forms = page.status === 200 ? parseForms(page.text) : [];
    assert.ok(forms.length, `owner walk, request ${step}${fault ? ` with ${fault.plan} at ${fault.step}` : ''}: ${page.status} ${page.text.slice(0, 400)}`);
    const form = forms.find((f) => f.buttons.some((b) => b.name === 'decision')) ?? forms.find((f) => f.inputs.some((i) => i.name === 'password'));
    req = { url: new URL(form.action, page.url).href, method: 'POST', form: fillForm(form, { password: h.password }) };
  }
  throw new Error('the owner walk did not end');
}

/** Redeems a code and uses the refresh token once: both must work. */
async function assertRedeemable(h, client, code, pkce, where) {
  const t = await redeemCode(h, { client, code, pkce, redirectUri: LOOPBACK_REDIRECT });
  assert.equal(t.status, 200, `${where}: ${t.text}`);
  const r = await refresh(h, client.client_id, t.json.refresh_token);
  assert.equal(r.status, 200, `${where}: the refresh token works: ${r.text}`);
  return r.json;
}

describe('storage faults', { timeout: 600_000 }, () => {
  let h;
  let client;
  const revokedOnPurpose = new Set();

  before(async () => {
    h = await startHarness({ name: 'faults', buildDir: join(ROOT, 'build-faults'), vars: { REVOCATION_CHECK_SECONDS: '2' } });
    const reg = await register(h.base);
    assert.equal(reg.status, 201, reg.text);
    client = reg.json;
  });
  after(async () => h?.stop());

  test('the committed build has no fault code; the fault build has', () => {
    const name = Buffer.from(FAULT);
    assert.ok(readFileSync(join(ROOT, 'build-faults/index_bg.wasm')).includes(name), 'the fault build reads the header');
    for (const wasm of ['dist/index_bg.wasm', 'build/index_bg.wasm']) {
      assert.ok(!readFileSync(join(ROOT, wasm)).includes(name), `${wasm} must not know the fault header`);
    }
  });

  test('/register: a failure at any statement is a 503 and registers nothing', async (t) => {
    const clean = await register(h.base);
    assert.equal(clean.status, 201, clean.text);
    const total = statements(clean);
    assert.ok(total >= 2, `registration prepares ${total} statements`);
    // Issue 14, target 4: the count, the client and its audit event in one batch.
    assert.equal(trips(clean), 1, 'a registration is one round trip to D1');
    const audited = async () => (await h.sql("SELECT COUNT(*) AS n FROM audit_events WHERE event = 'client.register'"))[0].n;
    const auditedBefore = await audited();
    let refused = 0;
    let registered = 0;
    const before = (await h.sql('SELECT COUNT(*) AS n FROM clients'))[0].n;
    const counted = async () => (await h.sql('SELECT COALESCE(SUM(n), 0) AS n FROM registration_counts'))[0].n;
    const countedBefore = await counted();
    for (let n = 0; n < total; n++) {
      const r = await register(h.base, {}, failAfter(n));
      if (r.status === 201) {
        registered++; // a failed write the endpoint may skip
        continue;
      }
      assertUnavailable(r, `/register, fail-after=${n}`);
      refused++;
    }
    const after = (await h.sql('SELECT COUNT(*) AS n FROM clients'))[0].n;
    assert.equal(after - before, registered, 'a refused registration wrote no client');
    assert.equal(await counted() - countedBefore, registered, 'a refused registration used none of the hourly cap');
    assert.equal(await audited() - auditedBefore, registered, 'a refused registration recorded no event');
    assert.ok(refused >= 1, 'at least one statement is one the registration cannot do without');
    t.diagnostic(`/register: ${total} statements in ${trips(clean)} round trips, ${refused} refused with 503, ${registered} skipped a write and registered`);
  });

  test('the owner walk: a failure at any statement of any request is retried by the person', async (t) => {
    const clean = await ownerWalk(h, client);
    await assertRedeemable(h, client, clean.code, clean.pkce, 'clean walk');
    // Issue 14, target 3c: the sign-in page's password form signs in and approves in one request.
    assert.deepEqual(clean.trips.map(([r]) => r), ['GET /authorize', 'POST /login'], clean.roundTrips.join(', '));
    const [, authorizeTrips] = clean.trips[0];
    const [, loginTrips] = clean.trips[1];
    assert.ok(authorizeTrips <= 2, `GET /authorize: ${authorizeTrips} round trips`);
    assert.ok(loginTrips <= 2, `POST /login with the decision: ${loginTrips} round trips (read ahead with the attempt's reservation, sign-in with approval)`);
    let swept = 0;
    for (const [step, total] of clean.counts.entries()) {
      for (let n = 0; n < total; n++) {
        const plan = `fail-after=${n}`;
        const walk = await ownerWalk(h, client, { step, plan });
        await assertRedeemable(h, client, walk.code, walk.pkce, `walk with ${plan} at request ${step}`);
        swept += walk.injected ? 1 : 0;
      }
    }
    assert.ok(swept >= clean.counts.filter((c) => c > 0).length, `every request that reads storage was refused at least once (${swept})`);
    t.diagnostic(`owner walk: statements per request ${JSON.stringify(clean.counts)}, ${swept} failures refused with 503 and retried; round trips ${clean.roundTrips.join(', ')}`);
  });

  test('/token, code exchange: a failure at any statement leaves the code redeemable', async (tc) => {
    const first = await ownerWalk(h, client);
    const t = await redeemCode(h, { client, code: first.code, pkce: first.pkce, redirectUri: LOOPBACK_REDIRECT });
    assert.equal(t.status, 200, t.text);
    const total = statements(t);
    let refused = 0;
    for (let n = 0; n < total; n++) {
      const walk = await ownerWalk(h, client);
      const failed = await redeemCode(h, { client, code: walk.code, pkce: walk.pkce, redirectUri: LOOPBACK_REDIRECT }, {}, failAfter(n));
      if (failed.status === 503) {
        assertUnavailable(failed, `/token code, fail-after=${n}`);
        refused++;
        await assertRedeemable(h, client, walk.code, walk.pkce, `/token code retried after fail-after=${n}`);
      } else {
        assert.equal(failed.status, 200, `/token code, fail-after=${n}: ${failed.text}`);
      }
    }
    assert.ok(refused >= 2, `the exchange reads and writes (${refused} of ${total} statements refused)`);
    tc.diagnostic(`/token code: ${total} statements in ${trips(t)} round trips, ${refused} refused with 503 and retried`);
  });

  test('/token, refresh: a failure at any statement is retried within the grace window', async (t) => {
    const walk = await ownerWalk(h, client);
    let tokens = await assertRedeemable(h, client, walk.code, walk.pkce, 'refresh sweep set-up');
    const probe = await refresh(h, client.client_id, tokens.refresh_token);
    assert.equal(probe.status, 200, probe.text);
    tokens = probe.json;
    const total = statements(probe);
    let refused = 0;
    for (let n = 0; n < total; n++) {
      const failed = await refresh(h, client.client_id, tokens.refresh_token, failAfter(n));
      if (failed.status === 503) {
        assertUnavailable(failed, `/token refresh, fail-after=${n}`);
        refused++;
        const retried = await refresh(h, client.client_id, tokens.refresh_token);
        assert.equal(retried.status, 200, `refresh retried after fail-after=${n}: ${retried.text}`);
        tokens = retried.json;
      } else {
        assert.equal(failed.status, 200, `/token refresh, fail-after=${n}: ${failed.text}`);
        tokens = failed.json;
      }
      const next = await mcpPost(h.mcpUrl, initializeBody(), bearer(tokens.access_token));
      assert.equal(next.status, 200, `the access token of refresh ${n} works`);
    }
    assert.ok(refused >= 2, `refresh reads and writes (${refused} of ${total} refused)`);
    t.diagnostic(`/token refresh: ${total} statements in ${trips(probe)} round trips, ${refused} refused with 503 and retried`);
  });

  test('/revoke and /introspect answer 503 while storage fails, and work once it is back', async () => {
    const reg = await register(h.base, { token_endpoint_auth_method: 'client_secret_post' });
    assert.equal(reg.status, 201, reg.text);
    const conf = reg.json;
    const walk = await ownerWalk(h, conf);
    const t = await redeemCode(h, { client: conf, code: walk.code, pkce: walk.pkce, redirectUri: LOOPBACK_REDIRECT }, { client_secret: conf.client_secret });
    assert.equal(t.status, 200, t.text);
    const auth = { client_id: conf.client_id, client_secret: conf.client_secret };

    const introspect = (headers = {}) => postForm(`${h.base}/introspect`, { ...auth, token: t.json.access_token }, headers);
    assertUnavailable(await introspect({ [FAULT]: 'fail' }), '/introspect');
    const seen = await introspect();
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.json.active, true);

    const revoke = (headers = {}) => postForm(`${h.base}/revoke`, { ...auth, token: t.json.refresh_token }, headers);
    assertUnavailable(await revoke({ [FAULT]: 'fail' }), '/revoke');
    const still = await postForm(`${h.base}/token`, { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, ...auth });
    assert.equal(still.status, 200, `a refused revocation revoked nothing: ${still.text}`);
    const done = await postForm(`${h.base}/revoke`, { ...auth, token: still.json.refresh_token });
    assert.equal(done.status, 200, done.text);
    const gone = await postForm(`${h.base}/token`, { grant_type: 'refresh_token', refresh_token: still.json.refresh_token, ...auth });
    assert.equal(gone.status, 400, 'revoked once storage is back');
    const gid = JSON.parse(Buffer.from(t.json.access_token.split('.')[1], 'base64url')).gid;
    revokedOnPurpose.add(gid);
  });

  test('/mcp serves from its revocation cache within REVOCATION_CHECK_SECONDS, then 503', async () => {
    const walk = await ownerWalk(h, client);
    const tokens = await assertRedeemable(h, client, walk.code, walk.pkce, '/mcp set-up');
    const auth = bearer(tokens.access_token);
    const fresh = await mcpPost(h.mcpUrl, initializeBody(), auth);
    assert.equal(fresh.status, 200, 'the cache is filled from D1');
    // Issue 14, target 4: no D1 round trip on the hot path (the token and the view already held).
    const hot = await mcpPost(h.mcpUrl, initializeBody(), auth);
    assert.equal(hot.status, 200, hot.text);
    for (const r of [fresh, hot]) assert.match(r.headers.get('x-gatehouse-test-round-trips') ?? '', /^\d+$/, '/mcp answers carry the counter');
    assert.ok(trips(fresh) <= 2, `a token new to the isolate: ${trips(fresh)} round trips`);
    assert.equal(trips(hot), 0, 'the hot path reads nothing from D1');
    // The second request is answered by edge/hot.rs (synchronous Rust, hot.js moving the bytes), the first is not.
    assert.equal(fresh.headers.get('x-gatehouse-test-path'), null, 'a token new to the isolate goes the usual way');
    assert.equal(hot.headers.get('x-gatehouse-test-path'), 'hot', 'a token and a view already held: the hot path');
    const cached = await mcpPost(h.mcpUrl, initializeBody(), { ...auth, [FAULT]: 'fail' });
    assert.equal(cached.status, 200, 'within the bound, a valid token is served from the cache');
    await sleep(2_500);
    const stale = await mcpPost(h.mcpUrl, initializeBody(), { ...auth, [FAULT]: 'fail' });
    assert.equal(stale.status, 503, 'past the bound, without D1, refused');
    assert.ok(stale.headers.get('retry-after'));
    assert.equal(stale.json?.jsonrpc, '2.0', 'in the MCP transport\'s own shape (JSON-RPC)');
    assert.ok(stale.json?.error?.code, 'a JSON-RPC error');
    const back = await mcpPost(h.mcpUrl, initializeBody(), auth);
    assert.equal(back.status, 200, 'works again once D1 is back');
  });

  test('a stalled D1 slows an answer down but does not change it', async () => {
    const walk = await ownerWalk(h, client);
    const t0 = Date.now();
    const t = await redeemCode(h, { client, code: walk.code, pkce: walk.pkce, redirectUri: LOOPBACK_REDIRECT }, {}, { [FAULT]: 'stall=300' });
    const took = Date.now() - t0;
    assert.equal(t.status, 200, t.text);
    assert.ok(took >= 300, `the stall took effect (${took} ms)`);
    const r = await refresh(h, client.client_id, t.json.refresh_token);
    assert.equal(r.status, 200, r.text);
  });

  test('afterwards, D1 holds nothing half-written and no grant revoked by a failure', async () => {
    const [orphanCodes] = await h.sql('SELECT COUNT(*) AS n FROM auth_codes c LEFT JOIN grants g ON g.grant_id = c.grant_id WHERE g.grant_id IS NULL');
    assert.equal(orphanCodes.n, 0, 'no code without its grant');
    const [orphanRefresh] = await h.sql('SELECT COUNT(*) AS n FROM refresh_tokens r LEFT JOIN grants g ON g.grant_id = r.grant_id WHERE g.grant_id IS NULL');
    assert.equal(orphanRefresh.n, 0, 'no refresh token without its grant');
    const [codeless] = await h.sql('SELECT COUNT(*) AS n FROM grants g WHERE NOT EXISTS (SELECT 1 FROM auth_codes c WHERE c.grant_id = g.grant_id)');
    assert.equal(codeless.n, 0, 'no grant without its code');
    const revoked = (await h.sql('SELECT grant_id FROM grants WHERE revoked_at IS NOT NULL')).map((r) => r.grant_id);
    assert.deepEqual(revoked.filter((g) => !revokedOnPurpose.has(g)), [], 'only the grant revoked on purpose is revoked');
    const [grants] = await h.sql('SELECT COUNT(*) AS n FROM grants');
    assert.ok(grants.n >= 20, `the sweeps made many grants (${grants.n})`);
  });
});
