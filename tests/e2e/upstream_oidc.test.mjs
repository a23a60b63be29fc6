// Sign-in through a real upstream OpenID Connect provider (panva's oidc-provider on 127.0.0.1,
// tests/e2e/fixtures/oidc-upstream.mjs) with Gatehouse in workerd: consent in Gatehouse, login
// at the provider, callback, code to the MCP client. The TypeScript SDK client connects
// through it; refusals: an account off the allow-list, forged ID tokens, a state from another
// browser; the provider's key rotation; RS256, ES256 and EdDSA ID tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.mjs';
import { sdkConnect, sdkProvider } from './sdk_client.mjs';
import { signInUpstream, continueUpstream, WebBrowser, parseForms, upstreamForm } from './owner.mjs';
import { newAuthorization as authorize, decodeJwt, pkcePair, redeemCode, register, LOOPBACK_REDIRECT } from './oauth.mjs';
import { startUpstream } from './fixtures/oidc-upstream.mjs';

let h;
let up;
let client;

before(async () => {
  up = await startUpstream();
  h = await startHarness({
    name: 'upstream_oidc',
    vars: { OIDC_ISSUER: up.issuer, OIDC_CLIENT_ID: up.clientId, OIDC_ALLOWED_SUBS: 'alice', OIDC_LABEL: 'Test IdP' },
    secrets: { OIDC_CLIENT_SECRET: up.clientSecret },
  });
  up.configure({ redirectUri: `${h.base}/callback/oidc` });
  const reg = await register(h.base, { redirect_uris: [LOOPBACK_REDIRECT], client_name: 'upstream e2e' });
  assert.equal(reg.status, 201, reg.text);
  client = reg.json;
});

after(async () => {
  await h?.stop();
  await up?.stop();
});

/** A fresh /authorize request for the registered client: { url, pkce, state }. */
const newAuthorization = () => authorize(h.base, client.client_id, h.mcpUrl);

/** One person in a fresh browser: Gatehouse consent -> provider login -> back. */
async function signIn(login, options = {}) {
  const a = newAuthorization();
  const walked = await signInUpstream(a.url, { base: h.base, provider: up.issuer, login, ...options });
  return { ...a, ...walked };
}

/** Signs in and redeems the code: the access token's claims. */
async function tokenFor(login) {
  const s = await signIn(login);
  assert.ok(s.location, `expected a redirect to the client, got HTTP ${s.page?.status}: ${s.page?.text?.slice(0, 300)}`);
  const back = new URL(s.location);
  assert.equal(back.searchParams.get('state'), s.state);
  const code = back.searchParams.get('code');
  assert.ok(code, s.location);
  const t = await redeemCode(h, { client, code, pkce: s.pkce, redirectUri: LOOPBACK_REDIRECT });
  assert.equal(t.status, 200, t.text);
  return decodeJwt(t.json.access_token).payload;
}

test('the sign-in page offers the provider, and consent comes before the browser leaves', async () => {
  const b = new WebBrowser();
  const page = await b.request(newAuthorization().url);
  assert.equal(page.status, 200);
  assert.match(page.text, /Allow and sign in with Test IdP/);
  const form = upstreamForm(parseForms(page.text), 'oidc');
  assert.equal(form.fields.decision, 'approve');
  const sent = await b.request(new URL(form.action, h.base), { method: 'POST', form: form.fields });
  assert.equal(sent.status, 303);
  const to = new URL(sent.location);
  assert.equal(to.origin, up.issuer);
  assert.equal(to.searchParams.get('redirect_uri'), `${h.base}/callback/oidc`);
  assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(to.searchParams.get('nonce') && to.searchParams.get('state'));
  assert.match(sent.headers.get('set-cookie'), /__Host-gatehouse-upstream=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=600/);
});

test('the TypeScript SDK client connects through the provider; the origin receives the upstream subject', async () => {
  const redirectUrl = 'http://127.0.0.1:47331/callback';
  const provider = sdkProvider({ redirectUrl, clientName: 'upstream e2e (TS SDK)', walk: (href) => signInUpstream(href, { base: h.base, provider: up.issuer, login: 'alice' }) });
  const mcp = await sdkConnect(h.mcpUrl, provider, 'upstream-e2e');
  const result = await mcp.callTool({ name: 'echo', arguments: { text: 'hello upstream' } });
  assert.match(JSON.stringify(result.content), /hello upstream/);
  assert.equal(decodeJwt(provider.saved.access_token).payload.sub, 'oidc:alice');
  const seen = (await h.seen()).at(-1).headers;
  assert.equal(seen['x-gatehouse-user'], 'oidc:alice');
  await mcp.close();
});

test('ES256 and EdDSA ID tokens are verified too (RS256 above)', async () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256']) {
    up.configure({ alg });
    const claims = await tokenFor('alice');
    assert.equal(claims.sub, 'oidc:alice', alg);
  }
});

test('an account the allow-list does not name is refused with a page, no code', async () => {
  const s = await signIn('mallory');
  assert.equal(s.location, undefined);
  assert.equal(s.page.status, 403, s.page.text);
  assert.match(s.page.text, /not on this server&#x27;s allow-list|not on this server's allow-list/);
  assert.match(s.page.text, /mallory/);
});

test('forged ID tokens are refused: another key, another audience, another nonce, expired', async () => {
  up.configure({ alg: 'ES256' });
  const reasons = { 'wrong-key': /signature does not verify/, 'wrong-aud': /wrong audience/, 'wrong-nonce': /nonce/, expired: /expired/ };
  for (const [kind, reason] of Object.entries(reasons)) {
    const tokensBefore = up.counts.token;
    up.forgeNext(kind);
    const s = await signIn('alice');
    assert.equal(up.counts.token, tokensBefore + 1, `${kind}: the code was redeemed once`);
    assert.equal(s.location, undefined, `${kind}: no code for the client`);
    assert.equal(s.page.status, 400, `${kind}: ${s.page.text.slice(0, 300)}`);
    assert.match(s.page.text, /ID token was refused/, kind);
    assert.match(s.page.text, reason, kind);
  }
  // And the genuine token still works afterwards.
  assert.equal((await tokenFor('alice')).sub, 'oidc:alice');
});

test('a callback carrying a state started in another browser is refused; the right browser finishes', async () => {
  const a = newAuthorization();
  const victim = await signInUpstream(a.url, { base: h.base, provider: up.issuer, login: 'alice', stopAtCallback: true });
  assert.ok(victim.callback, 'stopped at the callback');
  // Another browser follows the victim's callback URL. It has cookies of its own, a state
  // cookie included (it started a sign-in of its own), but not the victim's.
  const attacker = new WebBrowser();
  const own = await attacker.request(newAuthorization().url);
  const form = upstreamForm(parseForms(own.text), 'oidc');
  const started = await attacker.request(new URL(form.action, h.base), { method: 'POST', form: form.fields });
  assert.equal(started.status, 303);
  assert.match(attacker.jar(new URL(h.base).origin).header(), /__Host-gatehouse-upstream=/);
  const refused = await attacker.request(victim.callback);
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /not started in this browser/);
  const tokensBefore = up.counts.token;
  const done = await continueUpstream(victim.browser, await victim.browser.request(victim.callback), {
    gate: new URL(h.base).origin,
    known: new Set([new URL(h.base).origin, up.issuer]),
  });
  assert.ok(done.location, done.page?.text);
  assert.equal(new URL(done.location).searchParams.get('state'), a.state);
  assert.equal(up.counts.token, tokensBefore + 1, 'only the right browser redeemed the code');
  // The callback cannot be replayed, even by the browser that started it.
  const replay = await victim.browser.request(victim.callback);
  assert.equal(replay.status, 400);
});

test('a key rotation at the provider (new kid) keeps working: the keys are fetched again once', async () => {
  up.configure({ alg: 'RS256' });
  await tokenFor('alice');
  const oldKid = up.kid;
  const fetched = up.counts.jwks;
  up.configure({ rotate: true });
  assert.notEqual(up.kid, oldKid);
  assert.equal((await tokenFor('alice')).sub, 'oidc:alice');
  assert.equal(up.counts.jwks, fetched + 1, 'one JWKS refresh for the new kid');
  await tokenFor('alice');
  assert.equal(up.counts.jwks, fetched + 1, 'then served from the cache');
});

test('declining at the provider sends access_denied to the MCP client', async () => {
  const a = newAuthorization();
  const b = new WebBrowser();
  const gate = new URL(h.base).origin;
  let page = await b.request(a.url);
  const form = upstreamForm(parseForms(page.text), 'oidc');
  page = await b.request(new URL(form.action, h.base), { method: 'POST', form: form.fields });
  while (page.status === 303 || page.status === 302) page = await b.request(page.location);
  const interaction = new URL(page.url);
  assert.equal(interaction.origin, up.issuer);
  assert.match(interaction.pathname, /^\/interaction\//);
  // The provider's "cancel" (its abort endpoint).
  const aborted = await b.request(`${interaction.href.replace(/\/$/, '')}/abort`);
  const done = await continueUpstream(b, aborted, { gate, known: new Set([gate, up.issuer]) });
  assert.ok(done.location, done.page?.text);
  const back = new URL(done.location);
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), a.state);
});

test('"Remember" ticked with the first upstream sign-in: the same browser gets the next code without a page', async () => {
  up.configure({ alg: 'ES256' });
  // An https callback: a public client at a loopback port is always asked (RFC 8252 §8.6).
  const appRedirect = 'https://app.example/callback';
  const reg = await register(h.base, { redirect_uris: [appRedirect], client_name: 'upstream e2e (https)' });
  assert.equal(reg.status, 201, reg.text);
  const app = reg.json;
  const first = authorize(h.base, app.client_id, h.mcpUrl, appRedirect);
  const b = new WebBrowser();
  const page = await b.request(first.url);
  const form = upstreamForm(parseForms(page.text), 'oidc');
  assert.ok(form.inputs.some((i) => i.name === 'remember' && i.type === 'checkbox'), 'the box is in the provider buttons\' form');
  const walked = await continueUpstream(b, page, { gate: new URL(h.base).origin, known: new Set([new URL(h.base).origin, up.issuer]), login: 'alice', remember: true });
  assert.ok(walked.location, walked.page?.text);
  assert.ok(new URL(walked.location).searchParams.get('code'));
  // The second authorization of this client in this browser: straight back with a code.
  const tokensBefore = up.counts.token;
  const second = authorize(h.base, app.client_id, h.mcpUrl, appRedirect);
  const again = await b.request(second.url);
  assert.equal(again.status, 303, again.text.slice(0, 300));
  const back = new URL(again.location);
  assert.equal(`${back.origin}${back.pathname}`, appRedirect);
  assert.equal(back.searchParams.get('state'), second.state);
  assert.equal(up.counts.token, tokensBefore, 'the provider was not asked again');
  const t = await redeemCode(h, { client: app, code: back.searchParams.get('code'), pkce: second.pkce, redirectUri: appRedirect });
  assert.equal(t.status, 200, t.text);
  assert.equal(decodeJwt(t.json.access_token).payload.sub, 'oidc:alice');
});

test('Deny on the sign-in page, nobody signed in: a page for a client nobody approved, the redirect only for an approved one (RFC 9700 §4.11.2)', async () => {
  const deny = async (clientId) => {
    const b = new WebBrowser();
    const page = await b.request(authorize(h.base, clientId, h.mcpUrl).url);
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const form = parseForms(page.text).find((f) => f.fields.decision === 'deny');
    assert.ok(form, 'a Deny form beside the provider buttons');
    return b.request(new URL(form.action, h.base), { method: 'POST', form: form.fields });
  };
  const reg = await register(h.base, { redirect_uris: [LOOPBACK_REDIRECT], client_name: 'never approved' });
  assert.equal(reg.status, 201, reg.text);
  const stranger = await deny(reg.json.client_id);
  assert.equal(stranger.status, 200, `${stranger.status} ${stranger.location ?? ''}`);
  assert.equal(stranger.location ?? null, null, 'no redirect to a client the owner never approved');
  assert.match(stranger.text, /Access denied/);
  // `client` has been approved by the sign-ins above.
  await tokenFor('alice');
  const approved = await deny(client.client_id);
  assert.equal(approved.status, 303, approved.text?.slice(0, 300));
  assert.equal(new URL(approved.location).searchParams.get('error'), 'access_denied');
});
