// Sign-in with GitHub, with Gatehouse in workerd and a local stand-in for github.com and
// api.github.com (tests/e2e/fixtures/github-standin.mjs; GitHub itself cannot run here):
// consent in Gatehouse, then GitHub's authorize page, then /callback/github, then the MCP
// client's code. The TypeScript SDK client connects as an allowed account and the origin sees
// `github:<account id>`; an active member of an allowed organisation passes; a pending
// invitation and an account on neither list are refused; an account keeps its subject through
// a rename and whoever registers the freed login is refused; a code GitHub rejects is a 400
// page; declining at GitHub is `access_denied` for the MCP client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.mjs';
import { sdkConnect, sdkProvider } from './sdk_client.mjs';
import { Browser, parseForms, upstreamForm } from './owner.mjs';
import { newAuthorization as authorize, decodeJwt, pkcePair, redeemCode, register, LOOPBACK_REDIRECT } from './oauth.mjs';
import { startGithub, USERS } from './fixtures/github-standin.mjs';

const ORG = 'gatehouse-testers';
let h;
let gh;
let client;

before(async () => {
  gh = await startGithub();
  h = await startHarness({
    name: 'upstream_github',
    vars: {
      GITHUB_CLIENT_ID: gh.clientId,
      // Account ids, not logins: a login can be renamed and re-registered by someone else.
      GITHUB_ALLOWED_USERS: String(USERS.octocat.id),
      GITHUB_ALLOWED_ORGS: ORG,
      GITHUB_URL: gh.webBase,
      GITHUB_API_URL: gh.apiBase,
    },
    secrets: { GITHUB_CLIENT_SECRET: gh.clientSecret },
  });
  gh.callbackUrl = `${h.base}/callback/github`;
  const reg = await register(h.base, { redirect_uris: [LOOPBACK_REDIRECT], client_name: 'github e2e' });
  assert.equal(reg.status, 201, reg.text);
  client = reg.json;
});

after(async () => {
  await h?.stop();
  await gh?.stop();
});

/** A fresh /authorize request for the registered client: { url, pkce, state }. */
const newAuthorization = () => authorize(h.base, client.client_id, h.mcpUrl);

/** Gatehouse's sign-in page for `authUrl` in browser `b`, and its "sign in with GitHub" form. */
async function githubButton(b, authUrl) {
  let page = await b.request(authUrl);
  for (let i = 0; i < 5 && page.status >= 300 && page.status < 400 && new URL(page.location).origin === b.origin; i++) {
    page = await b.request(page.location);
  }
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const form = upstreamForm(parseForms(page.text), 'github');
  assert.ok(form, `a "sign in with GitHub" form on: ${page.text.slice(0, 600)}`);
  return { page, form };
}

/**
 * One person in a fresh browser: Gatehouse consent -> GitHub (signed in there as `login`, or
 * through the stand-in's sign-in form with `signInForm`) -> /callback/github. Returns
 * { location } when the browser is sent to the MCP client, else { page } (Gatehouse's answer).
 * `code` replaces the code GitHub issued, as a forged or stale callback would.
 */
async function viaGithub(authUrl, { login, signInForm = false, code } = {}) {
  const b = new Browser(h.base);
  const { page, form } = await githubButton(b, authUrl);
  const sent = await b.request(new URL(form.action, page.url), { method: 'POST', form: form.fields });
  assert.equal(sent.status, 303, sent.text.slice(0, 300));
  assert.ok(sent.location.startsWith(`${gh.webBase}/login/oauth/authorize?`), sent.location);
  let ghCookie = signInForm ? undefined : `user_session=${login}`;
  let at = await fetch(sent.location, { redirect: 'manual', headers: ghCookie ? { cookie: ghCookie } : {} });
  if (signInForm) {
    assert.equal(at.status, 200, 'GitHub asks who is signing in');
    const f = parseForms(await at.text())[0];
    const r = await fetch(new URL(f.action, gh.webBase), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...f.fields, login }),
    });
    assert.equal(r.status, 302);
    ghCookie = r.headers.getSetCookie()[0].split(';')[0];
    at = await fetch(new URL(r.headers.get('location'), gh.webBase), { redirect: 'manual', headers: { cookie: ghCookie } });
  }
  assert.equal(at.status, 302, `GitHub sends the browser back: ${await at.text()}`);
  const callback = new URL(at.headers.get('location'));
  assert.equal(`${callback.origin}${callback.pathname}`, `${h.base}/callback/github`);
  if (code !== undefined) callback.searchParams.set('code', code);
  const back = await b.request(callback.href);
  if (back.status === 303 && back.location && new URL(back.location).origin !== b.origin) return { location: back.location, sent };
  return { page: back, sent };
}

/** Signs in through GitHub and redeems the code: the access token's claims. */
async function tokenFor(login, options = {}) {
  const a = newAuthorization();
  const s = await viaGithub(a.url, { login, ...options });
  assert.ok(s.location, `expected a redirect to the client, got HTTP ${s.page?.status}: ${s.page?.text?.slice(0, 300)}`);
  const back = new URL(s.location);
  assert.equal(back.searchParams.get('state'), a.state);
  const t = await redeemCode(h, { client, code: back.searchParams.get('code'), pkce: a.pkce, redirectUri: LOOPBACK_REDIRECT });
  assert.equal(t.status, 200, t.text);
  return decodeJwt(t.json.access_token).payload;
}

test('the sign-in page offers GitHub; the browser goes to GitHub with the documented authorize request', async () => {
  const b = new Browser(h.base);
  const { page, form } = await githubButton(b, newAuthorization().url);
  assert.match(page.text, /Allow and sign in with GitHub/);
  assert.equal(form.fields.decision, 'approve');
  const sent = await b.request(new URL(form.action, page.url), { method: 'POST', form: form.fields });
  assert.equal(sent.status, 303);
  const to = new URL(sent.location);
  assert.equal(`${to.origin}${to.pathname}`, `${gh.webBase}/login/oauth/authorize`);
  assert.equal(to.searchParams.get('client_id'), gh.clientId);
  assert.equal(to.searchParams.get('redirect_uri'), `${h.base}/callback/github`);
  assert.equal(to.searchParams.get('scope'), 'read:user read:org');
  assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
  assert.match(to.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(to.searchParams.get('state').length >= 32, 'an unguessable state');
  assert.match(sent.headers.get('set-cookie'), /__Host-[^=]+=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Lax/);
});

test('the TypeScript SDK client connects as an allowed account; the origin receives github:<account id>', async () => {
  const redirectUrl = 'http://127.0.0.1:47332/callback';
  const provider = sdkProvider({ redirectUrl, clientName: 'github e2e (TS SDK)', walk: (href) => viaGithub(href, { login: 'octocat', signInForm: true }) });
  const apiBefore = gh.apiRequests.length;
  const mcp = await sdkConnect(h.mcpUrl, provider, 'github-e2e');
  const result = await mcp.callTool({ name: 'echo', arguments: { text: 'hello github' } });
  assert.match(JSON.stringify(result.content), /hello github/);
  assert.equal(decodeJwt(provider.saved.access_token).payload.sub, `github:${USERS.octocat.id}`);
  const seen = (await h.seen()).at(-1).headers;
  assert.equal(seen['x-gatehouse-user'], `github:${USERS.octocat.id}`);
  // The login is shown beside the id where people read it: the audit log.
  const [audit] = await h.sql("SELECT subject, detail FROM audit_events WHERE event = 'login.upstream.success' ORDER BY id DESC LIMIT 1");
  assert.equal(audit.subject, `github:${USERS.octocat.id}`);
  assert.equal(JSON.parse(audit.detail).account, '@octocat');
  await mcp.close();
  // What Gatehouse sent to GitHub's API: the documented headers, and no org lookup for a listed login.
  const sent = gh.apiRequests.slice(apiBefore);
  assert.deepEqual(sent.map((r) => r.path), ['/user']);
  assert.match(sent[0].headers.authorization, /^Bearer gho_/);
  assert.equal(sent[0].headers.accept, 'application/vnd.github+json');
  assert.equal(sent[0].headers['x-github-api-version'], '2022-11-28');
  assert.ok(sent[0].headers['user-agent']);
});

test('an active member of an allowed organisation passes', async () => {
  const before = gh.counts.membership;
  const claims = await tokenFor('hubot');
  assert.equal(claims.sub, `github:${USERS.hubot.id}`);
  assert.equal(gh.counts.membership, before + 1, 'membership asked once');
});

test('a pending invitation and an account on neither list are refused with a page and no code', async () => {
  for (const login of ['invitee', 'mallory']) {
    const tokensBefore = gh.counts.token;
    const s = await viaGithub(newAuthorization().url, { login });
    assert.equal(s.location, undefined, `${login}: no code for the client`);
    assert.equal(s.page.status, 403, `${login}: ${s.page.text.slice(0, 300)}`);
    assert.match(s.page.text, /may not use this server/, login);
    assert.match(s.page.text, new RegExp(`@${login} \\(id ${USERS[login].id}\\)`), `${login}: the page names the login and the id to list`);
    assert.equal(gh.counts.token, tokensBefore + 1, `${login}: the code was redeemed once`);
    assert.ok(!s.page.headers.get('set-cookie')?.includes('__Host-gatehouse-session='), `${login}: no Gatehouse session`);
  }
});

test('a code GitHub rejects is a 400 page; the real code cannot be replayed', async () => {
  const before = gh.counts.token;
  const s = await viaGithub(newAuthorization().url, { login: 'octocat', code: 'not-a-code-github-issued' });
  assert.equal(s.location, undefined);
  assert.equal(s.page.status, 400, s.page.text.slice(0, 300));
  assert.match(s.page.text, /GitHub did not accept this sign-in code/);
  assert.equal(gh.counts.token, before + 1, 'Gatehouse asked GitHub, and GitHub said no');

  // A real code, used once, then its callback replayed: Gatehouse refuses before asking GitHub.
  const a = newAuthorization();
  const b = new Browser(h.base);
  const { page, form } = await githubButton(b, a.url);
  const sent = await b.request(new URL(form.action, page.url), { method: 'POST', form: form.fields });
  const at = await fetch(sent.location, { redirect: 'manual', headers: { cookie: 'user_session=octocat' } });
  const callback = at.headers.get('location');
  const first = await b.request(callback);
  assert.equal(first.status, 303);
  assert.equal(new URL(first.location).searchParams.get('state'), a.state);
  const tokens = gh.counts.token;
  const replay = await b.request(callback);
  assert.equal(replay.status, 400, replay.text.slice(0, 300));
  assert.equal(gh.counts.token, tokens, 'no second redemption at GitHub');
});

test('declining at GitHub sends access_denied to the MCP client', async () => {
  const a = newAuthorization();
  gh.declineNext = true;
  const b = new Browser(h.base);
  const { page, form } = await githubButton(b, a.url);
  const sent = await b.request(new URL(form.action, page.url), { method: 'POST', form: form.fields });
  const at = await fetch(sent.location, { redirect: 'manual', headers: { cookie: 'user_session=octocat' } });
  assert.equal(new URL(at.headers.get('location')).searchParams.get('error'), 'access_denied');
  const back = await b.request(at.headers.get('location'));
  assert.equal(back.status, 303, back.text.slice(0, 300));
  const to = new URL(back.location);
  assert.equal(`${to.origin}${to.pathname}`, LOOPBACK_REDIRECT);
  assert.equal(to.searchParams.get('error'), 'access_denied');
  assert.equal(to.searchParams.get('state'), a.state);
  assert.equal(to.searchParams.get('code'), null);
});

test('a renamed account keeps its subject; whoever registers the freed login is someone else and is refused (issue 15)', async () => {
  gh.rename('octocat', 'octocat-renamed');
  try {
    assert.equal((await tokenFor('octocat-renamed')).sub, `github:${USERS.octocat.id}`, 'same person, same subject');
    gh.addUser('octocat', { id: 99_000_001, name: 'Not the Octocat' });
    const s = await viaGithub(newAuthorization().url, { login: 'octocat' });
    assert.equal(s.location, undefined, 'no code for the new owner of the old login');
    assert.equal(s.page.status, 403, s.page.text.slice(0, 300));
    assert.match(s.page.text, /@octocat \(id 99000001\)/);
  } finally {
    delete gh.users.octocat;
    gh.rename('octocat-renamed', 'octocat');
  }
});

test('a wrong client secret is a 502 page naming the settings to check (last: restarts the worker)', async () => {
  await h.restart({ secrets: { GITHUB_CLIENT_SECRET: 'not-the-secret-github-issued' } });
  const before = gh.counts.token;
  const s = await viaGithub(newAuthorization().url, { login: 'octocat' });
  assert.equal(s.location, undefined);
  assert.equal(s.page.status, 502, s.page.text.slice(0, 300));
  assert.match(s.page.text, /GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET/);
  assert.doesNotMatch(s.page.text, /not-the-secret-github-issued/);
  assert.equal(gh.counts.token, before + 1);
});
