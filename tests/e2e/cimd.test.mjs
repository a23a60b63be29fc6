// Client ID Metadata Documents end to end: a client_id that is an https URL, whose JSON
// document Gatehouse fetches, checks and caches. Gatehouse's fetches go through the optional
// CIMD_FETCH service binding, bound here to tests/e2e/fixtures/cimd-fetcher, which forwards
// each request (path, headers, `redirect: manual`, status) to a local document server; so
// documents live at realistic URLs (https://client.example.com/...) while the URL rules run
// on those real URLs. One worker for the whole file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startHarness } from './harness.mjs';
import { cimdFetcher, startDocServer } from './doc_server.mjs';
import { approveAsOwner, htmlUnescape } from './owner.mjs';
import { LOOPBACK_REDIRECT, authorizeUrl, get, initializeBody, mcpPost, pkcePair, redeemCode, refresh } from './oauth.mjs';

const HOST = 'client.example.com';
const MAX_DOCUMENT_BYTES = 5 * 1024;

let h;
let docs;
before(async () => {
  docs = await startDocServer();
  h = await startHarness({ name: 'cimd', ...cimdFetcher(docs.base) });
});
after(async () => {
  await h?.stop();
  await docs?.close();
});

/** A fresh document URL on the test host, so tests never share a cache entry. */
const freshUrl = (name, host = HOST) => `https://${host}/${name}-${randomBytes(4).toString('hex')}.json`;

function metadata(clientId, extra = {}) {
  return {
    client_id: clientId,
    client_name: 'Doc Client e2e',
    redirect_uris: [LOOPBACK_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  };
}

function serveDocument(url, { extra = {}, headers = { 'cache-control': 'max-age=300' } } = {}) {
  docs.serve(url, { headers, body: JSON.stringify(metadata(url, extra)) });
}

function authorizeParams(clientId, pkce = pkcePair()) {
  return {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: LOOPBACK_REDIRECT,
    state: 'cimd-state',
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    resource: h.mcpUrl,
  };
}

const startAuthorize = (clientId) => get(authorizeUrl(h.base, authorizeParams(clientId)), { accept: 'text/html' });

/** /authorize answered with an HTML error page (400, never a redirect) that says `why`. */
async function assertRefused(clientId, why) {
  const r = await startAuthorize(clientId);
  assert.equal(r.status, 400, `${clientId}: ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.headers.get('location'), null, 'an untrusted client is never redirected to');
  assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
  const text = htmlUnescape(r.text);
  assert.ok(text.includes(why), `expected "${why}" in the page:\n${text.replace(/<[^>]+>/g, ' ').slice(0, 800)}`);
  return text;
}

/** Refused before any fetch: the document server saw nothing at all. */
async function assertRefusedBeforeFetch(clientId, why) {
  const before = docs.count();
  docs.serve(clientId, { body: JSON.stringify(metadata(clientId)) }); // would be valid if fetched
  await assertRefused(clientId, why);
  assert.equal(docs.count(), before, 'no request reached any document server');
}

// ---- discovery --------------------------------------------------------------------

test('metadata advertises client_id_metadata_document_supported: true', async () => {
  const r = await get(`${h.base}/.well-known/oauth-authorization-server`);
  assert.equal(r.status, 200);
  assert.equal(r.json.client_id_metadata_document_supported, true);
});

// ---- a working client ---------------------------------------------------------------

test('a CIMD client completes authorize → consent → token → /mcp, and refresh works', async () => {
  const url = freshUrl('flow');
  serveDocument(url);
  const pkce = pkcePair();
  const { location } = await approveAsOwner(authorizeUrl(h.base, authorizeParams(url, pkce)), { base: h.base, password: h.password });
  const loc = new URL(location);
  assert.equal(`${loc.origin}${loc.pathname}`, LOOPBACK_REDIRECT);
  assert.equal(loc.searchParams.get('state'), 'cimd-state');
  const code = loc.searchParams.get('code');
  assert.ok(code, location);

  const token = await redeemCode(h, { client: { client_id: url }, code, pkce, redirectUri: LOOPBACK_REDIRECT });
  assert.equal(token.status, 200, token.text);
  const claims = JSON.parse(Buffer.from(token.json.access_token.split('.')[1], 'base64url'));
  assert.equal(claims.client_id, url, 'the token names the URL client_id');

  const mcp = await mcpPost(h.mcpUrl, initializeBody(), { authorization: `Bearer ${token.json.access_token}` });
  assert.equal(mcp.status, 200, mcp.text);
  const seen = await h.seen();
  assert.equal(seen.at(-1).headers['x-gatehouse-client'], url, 'the origin is told the URL client_id');

  const refreshed = await refresh(h, url, token.json.refresh_token);
  assert.equal(refreshed.status, 200, refreshed.text);

  const req = docs.requests.find((r) => r.host === HOST && url.endsWith(r.path));
  assert.match(req.accept ?? '', /application\/json/, 'fetched with Accept: application/json');
  assert.equal(req.redirect, 'manual', 'fetched with redirect: manual');
  assert.equal(docs.count(url), 1, 'one fetch served authorize, login, consent, token and refresh (max-age=300)');
});

test('the login and consent pages show the client_name as asserted by the document at its host', async () => {
  const url = freshUrl('consent-name');
  serveDocument(url, { extra: { client_name: 'Acme <Assistant>' } });
  const r = await startAuthorize(url);
  assert.equal(r.status, 200, r.text);
  const text = htmlUnescape(r.text);
  assert.ok(text.includes('Acme <Assistant>'), 'the name, escaped in HTML');
  assert.ok(!r.text.includes('Acme <Assistant>'), 'never as raw HTML');
  assert.ok(text.includes(`metadata document at <strong>${HOST}</strong>`), text);
  assert.ok(!text.includes('unverified'), 'not labelled like a self-registered name');
});

test('the TypeScript SDK uses its clientMetadataUrl as client_id (no registration) and reaches the origin', async () => {
  const url = freshUrl('ts-sdk');
  serveDocument(url, { extra: { client_name: 'gatehouse e2e (TS SDK, CIMD)' } });
  const provider = {
    authorizations: 0,
    get redirectUrl() { return LOOPBACK_REDIRECT; },
    get clientMetadataUrl() { return url; },
    get clientMetadata() { return metadata(url); },
    clientInformation() { return this.client; },
    saveClientInformation(info) { this.client = info; },
    tokens() { return this.saved; },
    saveTokens(t) { this.saved = t; },
    saveCodeVerifier(v) { this.verifier = v; },
    codeVerifier() { return this.verifier; },
    async redirectToAuthorization(authUrl) {
      this.authorizations++;
      const { location } = await approveAsOwner(authUrl.href, { base: h.base, password: h.password });
      this.callback = new URL(location);
    },
  };
  const transport = new StreamableHTTPClientTransport(new URL(h.mcpUrl), { authProvider: provider });
  const first = new Client({ name: 'gatehouse-e2e-cimd', version: '1.0.0' });
  await assert.rejects(first.connect(transport), UnauthorizedError);
  await first.close().catch(() => {});
  assert.equal(provider.client?.client_id, url, 'the SDK chose the URL client_id');
  assert.equal(provider.authorizations, 1);
  await transport.finishAuth(provider.callback.searchParams.get('code'));
  assert.ok(provider.tokens()?.access_token);

  const client = new Client({ name: 'gatehouse-e2e-cimd', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl), { authProvider: provider }));
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'echo'), 'tools listed through the gateway');
  await client.close();
  assert.ok(docs.count(url) >= 1, 'Gatehouse fetched the document');
});

// ---- refused before any fetch (SSRF) --------------------------------------------------

test('refused before any fetch: client_id at 127.0.0.1', async () => {
  await assertRefusedBeforeFetch('https://127.0.0.1/meta.json', 'points at a loopback address (127.0.0.0/8)');
});

test('refused before any fetch: client_id at 10.0.0.1', async () => {
  await assertRefusedBeforeFetch('https://10.0.0.1/meta.json', 'points at a private address (10.0.0.0/8)');
});

test('refused before any fetch: client_id at 169.254.169.254 (cloud metadata)', async () => {
  await assertRefusedBeforeFetch('https://169.254.169.254/latest/meta-data/client.json', 'points at a link-local address (169.254.0.0/16');
});

test('refused before any fetch: client_id at [::1]', async () => {
  await assertRefusedBeforeFetch('https://[::1]/meta.json', 'points at the loopback address (::1)');
});

test('refused before any fetch: client_id at localhost and other private names', async () => {
  await assertRefusedBeforeFetch('https://localhost/meta.json', 'names the single-label host "localhost"');
  await assertRefusedBeforeFetch('https://metadata.google.internal/client.json', 'names a host under .internal');
});

test('refused before any fetch: http, fragment, user info, dot segments, no path', async () => {
  await assertRefusedBeforeFetch(`http://${HOST}/meta.json`, 'must use https');
  await assertRefusedBeforeFetch(`https://${HOST}/meta.json#frag`, 'must not contain a fragment');
  await assertRefusedBeforeFetch(`https://user@${HOST}/meta.json`, 'must not contain a user name or password');
  await assertRefusedBeforeFetch(`https://${HOST}/a/../meta.json`, 'must not contain . or .. path segments');
  await assertRefusedBeforeFetch(`https://${HOST}/`, 'must have a path');
});

// ---- refused after the fetch ----------------------------------------------------------

test('refused: a document URL that redirects (302) is not followed', async () => {
  const url = freshUrl('redirects');
  const target = freshUrl('redirect-target');
  serveDocument(target);
  docs.serve(url, { status: 302, headers: { location: target }, body: '' });
  await assertRefused(url, 'answered with a redirect (HTTP 302); redirects are not followed');
  assert.equal(docs.count(url), 1);
  assert.equal(docs.count(target), 0, 'the redirect target was never requested');
});

test('refused: an oversized document (Content-Length over 5 KB)', async () => {
  const url = freshUrl('oversized');
  docs.serve(url, { body: JSON.stringify(metadata(url, { padding: 'x'.repeat(MAX_DOCUMENT_BYTES) })) });
  await assertRefused(url, `its metadata document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
});

test('refused: an oversized document streamed without Content-Length', async () => {
  const url = freshUrl('oversized-stream');
  const body = JSON.stringify(metadata(url, { padding: 'x'.repeat(MAX_DOCUMENT_BYTES * 4) }));
  docs.serve(url, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no length declared
    for (let i = 0; i < body.length; i += 1000) res.write(body.slice(i, i + 1000));
    res.end();
  });
  await assertRefused(url, `its metadata document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
});

test('refused: a document whose client_id differs from its URL', async () => {
  const url = freshUrl('other-id');
  docs.serve(url, { body: JSON.stringify(metadata(`https://${HOST}/someone-else.json`)) });
  await assertRefused(url, `names client_id "https://${HOST}/someone-else.json", not the URL it was fetched from`);
});

test('refused: a non-200 answer (404, 500)', async () => {
  const missing = freshUrl('missing');
  await assertRefused(missing, 'its metadata URL answered HTTP 404, not 200');
  const broken = freshUrl('broken');
  docs.serve(broken, { status: 500, body: JSON.stringify(metadata(broken)) });
  await assertRefused(broken, 'its metadata URL answered HTTP 500, not 200');
});

test('refused: a document asking for a shared-secret auth method, or carrying a client_secret', async () => {
  const basic = freshUrl('secret-basic');
  serveDocument(basic, { extra: { token_endpoint_auth_method: 'client_secret_basic' } });
  await assertRefused(basic, 'asks for token_endpoint_auth_method client_secret_basic, a shared secret');
  const post = freshUrl('secret-post');
  serveDocument(post, { extra: { token_endpoint_auth_method: 'client_secret_post' } });
  await assertRefused(post, 'asks for token_endpoint_auth_method client_secret_post, a shared secret');
  const secret = freshUrl('secret-field');
  serveDocument(secret, { extra: { client_secret: 'do-not-echo-me' } });
  const text = await assertRefused(secret, 'contains client_secret; a metadata document cannot carry a shared secret');
  assert.ok(!text.includes('do-not-echo-me'), 'the secret is never shown');
});

test('refused: redirect_uris that registration would refuse (same rules)', async () => {
  const url = freshUrl('bad-redirect');
  serveDocument(url, { extra: { redirect_uris: ['http://evil.example/callback'] } });
  await assertRefused(url, 'http is allowed only for loopback hosts');
});

test('refused: a document server that does not answer within 5 s', async () => {
  const url = freshUrl('slow');
  docs.hang(url);
  await assertRefused(url, 'its metadata document did not arrive within 5 seconds');
});

test('refused: a document server that sends its headers at once but not the whole body within 5 s', async () => {
  // The limit is on the whole exchange, not only the headers.
  const url = freshUrl('slow-body');
  docs.hangBody(url);
  await assertRefused(url, 'its metadata document did not arrive within 5 seconds');
});

// ---- caching ---------------------------------------------------------------------------

test('caching: a second /authorize within max-age does not fetch again', async () => {
  const url = freshUrl('cached');
  serveDocument(url, { headers: { 'cache-control': 'max-age=600' } });
  assert.equal((await startAuthorize(url)).status, 200);
  assert.equal((await startAuthorize(url)).status, 200);
  assert.equal(docs.count(url), 1);
});

test('caching: Cache-Control no-store is fetched every time', async () => {
  const url = freshUrl('no-store');
  serveDocument(url, { headers: { 'cache-control': 'no-store' } });
  assert.equal((await startAuthorize(url)).status, 200);
  assert.equal((await startAuthorize(url)).status, 200);
  assert.equal(docs.count(url), 2);
});

test('caching: a failed fetch is remembered briefly (src/protocol/cimd/negative_cache.rs): the same URL is refused again without a new fetch', async () => {
  const url = freshUrl('fixed-later');
  docs.serve(url, { status: 503, headers: { 'cache-control': 'max-age=600' }, body: 'down' });
  await assertRefused(url, 'answered HTTP 503');
  serveDocument(url);
  await assertRefused(url, 'answered HTTP 503');
  assert.equal(docs.count(url), 1, 'the failure answered from memory, not fetched anew');
  // Each failure is remembered as it was: another URL's bad document gives its own reason.
  const other = freshUrl('bad-document');
  docs.serve(other, { headers: { 'cache-control': 'max-age=600' }, body: JSON.stringify(metadata(other, { client_id: `${other}x` })) });
  await assertRefused(other, 'not the URL it was fetched from');
  await assertRefused(other, 'not the URL it was fetched from');
  assert.equal(docs.count(other), 1);
});

// ---- the token endpoint ----------------------------------------------------------------

test('/token: a CIMD client whose document has gone bad gets 401 invalid_client', async () => {
  const url = freshUrl('gone-bad');
  serveDocument(url, { headers: { 'cache-control': 'no-store' } });
  const pkce = pkcePair();
  const { location } = await approveAsOwner(authorizeUrl(h.base, authorizeParams(url, pkce)), { base: h.base, password: h.password });
  const code = new URL(location).searchParams.get('code');
  assert.ok(code);
  docs.serve(url, { status: 404, body: '' });
  const r = await redeemCode(h, { client: { client_id: url }, code, pkce, redirectUri: LOOPBACK_REDIRECT });
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.error, 'invalid_client');
  assert.match(r.json.error_description, /HTTP 404/);
});

test('/token: a URL client_id at a private address is invalid_client without a fetch', async () => {
  const before = docs.count();
  const r = await redeemCode(h, { client: { client_id: 'https://10.0.0.1/meta.json' }, code: 'x', pkce: pkcePair(), redirectUri: LOOPBACK_REDIRECT });
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.error, 'invalid_client');
  assert.match(r.json.error_description, /10\.0\.0\.0\/8/);
  assert.equal(docs.count(), before);
});
