#!/usr/bin/env node
// `npm run doctor -- https://mcp.example.com`: checks a Gatehouse from the outside, the way MCP
// clients see it (requirements.md §A): the 401 challenge, both protected-resource metadata
// forms, the authorization-server metadata and its required fields, the `iss` and Client ID
// Metadata Document adverts, CORS for browser clients, the JWKS, the server's clock. With the
// owner's password (GATEHOUSE_OWNER_PASSWORD, --password-stdin, or asked with --sign-in) it
// also signs in like a client (registration, PKCE, the sign-in and consent pages, a token),
// checks that the MCP server answers through Gatehouse, and revokes that token again.
// Each problem is printed with its fix; the exit code is 1 when anything failed.
import { createHash, randomBytes } from 'node:crypto';
import { Stop, parseOptions, requireNode, runMain, say } from './lib/cli.mjs';

const USAGE = `Usage: npm run doctor -- <Gatehouse URL> [--sign-in] [--password-stdin]
  <Gatehouse URL>    what you paste into a client, e.g. https://mcp.example.com/mcp (or the bare host)
  --sign-in          also sign in as the owner and call your MCP server through Gatehouse; the
                     password comes from $GATEHOUSE_OWNER_PASSWORD, --password-stdin, or is asked
  --password-stdin   read the owner password from stdin (implies --sign-in)
  --timeout SECONDS  per request (default 15)`;

const MAX_SKEW_SECONDS = 60;
const PROTOCOL_VERSION = '2025-06-18';

// ---- results --------------------------------------------------------------------------
const results = [];
function record(status, name, detail, fix) {
  results.push({ status, name, detail, fix });
  const mark = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' }[status];
  say(`  ${mark}  ${name}${detail ? `: ${detail}` : ''}`);
  if (fix && status !== 'pass') say(`        fix: ${fix}`);
}
const pass = (name, detail) => record('pass', name, detail);
const fail = (name, detail, fix) => record('fail', name, detail, fix);
const warnr = (name, detail, fix) => record('warn', name, detail, fix);
const skip = (name, detail) => record('skip', name, detail);

// ---- HTTP ------------------------------------------------------------------------------
let timeoutMs = 15_000;
const dates = [];

async function http(url, init = {}) {
  const started = Date.now();
  const res = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const date = res.headers.get('date');
  if (date) dates.push({ server: Date.parse(date), local: (started + Date.now()) / 2 });
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json, url };
}

const short = (text) => text.replace(/\s+/g, ' ').trim().slice(0, 160);
const cause = (e) => e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(e);
const isLoopback = (u) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(u).hostname);
const secureUrl = (u) => typeof u === 'string' && /^https?:\/\//.test(u) && (u.startsWith('https://') || isLoopback(u));

/** RFC 8414 §3: the metadata URL of an issuer (path inserted after the host). */
function asMetadataUrl(issuer) {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/oauth-authorization-server${path}`;
}

/** The value of a parameter in a `WWW-Authenticate: Bearer a="b", c="d"` header. */
function authParam(header, name) {
  return new RegExp(`${name}="([^"]*)"`).exec(header ?? '')?.[1];
}

// ---- the checks ------------------------------------------------------------------------
/** Returns what later steps need: { prm, issuer, as } (each may be undefined). */
async function discovery(base, mcpUrl) {
  const hostFix = `paste ${base}/mcp into the client (the host where Gatehouse answers), or set PUBLIC_URL to the host you use: npm run deploy -- --public-url ${base} (or --domain)`;
  // 1. the challenge
  let challenge;
  try {
    challenge = await http(mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL_VERSION },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'gatehouse-doctor', version: '1' } } }),
    });
  } catch (e) {
    fail('reachable', `no answer from ${mcpUrl} (${cause(e)})`, 'check the host name and that the deploy finished (npm run deploy); a new custom domain can take a few minutes to get its certificate');
    return {};
  }
  pass('reachable', `${mcpUrl} answers (HTTP ${challenge.status})`);
  const www = challenge.headers.get('www-authenticate');
  let metadataUrl;
  if (challenge.status === 401 && /^Bearer\b/i.test(www ?? '')) {
    metadataUrl = authParam(www, 'resource_metadata');
    if (!metadataUrl) {
      fail('401 challenge', `WWW-Authenticate has no resource_metadata: ${short(www)}`, 'this is not Gatehouse answering (or a very old one): check the URL, then npm run deploy');
    } else if (new URL(metadataUrl).origin !== base) {
      fail('401 challenge', `resource_metadata is on ${new URL(metadataUrl).origin}, not on ${base} where the client connected (Codex ignores it; other clients then fail to find the metadata)`, hostFix);
    } else {
      pass('401 challenge', `Bearer resource_metadata="${metadataUrl}"${authParam(www, 'scope') ? `, scope="${authParam(www, 'scope')}"` : ''}`);
      if (!authParam(www, 'scope')) warnr('401 challenge scope', 'no scope= in the challenge (clients then ask for no scope)', 'set SCOPES');
    }
  } else if (challenge.status === 404) {
    fail('401 challenge', `HTTP 404 at ${mcpUrl}`, `the connector URL is ${base}/mcp; if the Worker has a route for only some paths, route the whole host to it (a custom domain: npm run deploy -- --domain)`);
  } else if (challenge.status >= 200 && challenge.status < 300) {
    fail('401 challenge', `${mcpUrl} answered HTTP ${challenge.status} without any token: this is not Gatehouse but probably your MCP server itself (the tunnel or origin hostname)`, 'use the Gatehouse host in the client, and lock the origin so that only Gatehouse reaches it (docs/origin.md)');
  } else {
    fail('401 challenge', `expected 401 with WWW-Authenticate: Bearer resource_metadata=…, got HTTP ${challenge.status}${www ? ` (${short(www)})` : ''}: ${short(challenge.text)}`, gatehouseErrorFix(challenge.text));
  }

  // 2. both protected-resource metadata forms (clients try the header's, then path, then root)
  const expectedResource = `${base}/mcp`;
  let prm;
  for (const [name, url] of [['protected resource (path form)', `${base}/.well-known/oauth-protected-resource/mcp`], ['protected resource (root form)', `${base}/.well-known/oauth-protected-resource`]]) {
    let r;
    try {
      r = await http(url, { headers: { accept: 'application/json' } });
    } catch (e) {
      fail(name, `${url}: ${cause(e)}`, 'check the host');
      continue;
    }
    if (r.status !== 200 || !r.json) {
      fail(name, `${url} answered HTTP ${r.status}${r.json ? '' : ' without JSON'}`, `the well-known documents must come from Gatehouse on the same host as /mcp (claude.ai gives up on a 404 at the root form): route the whole host ${new URL(base).host} to the Worker (a custom domain: npm run deploy -- --domain), not just /mcp`);
      continue;
    }
    const problems = [];
    if (r.json.resource !== expectedResource) problems.push(`resource is ${JSON.stringify(r.json.resource)}, not ${expectedResource}`);
    if (!Array.isArray(r.json.authorization_servers) || !r.json.authorization_servers.length) problems.push('no authorization_servers');
    if (problems.length) fail(name, problems.join('; '), hostFix);
    else pass(name, `resource ${r.json.resource}, authorization server ${r.json.authorization_servers[0]}`);
    prm ??= r.json;
  }
  const issuer = prm?.authorization_servers?.[0];
  if (!issuer) return { prm };
  if (new URL(issuer).origin !== base) {
    fail('issuer', `the issuer is ${issuer}, but the client connected to ${base}; clients of MCP 2026-07-28 require them to match`, hostFix);
  } else {
    pass('issuer', `${issuer} is the host the client connects to`);
  }

  // 3. authorization server metadata
  let as;
  try {
    const r = await http(asMetadataUrl(issuer), { headers: { accept: 'application/json' } });
    if (r.status === 200 && r.json) as = r.json;
    else fail('authorization server metadata', `${asMetadataUrl(issuer)} answered HTTP ${r.status}`, `the issuer ${issuer} must serve it; ${hostFix}`);
  } catch (e) {
    fail('authorization server metadata', `${asMetadataUrl(issuer)}: ${cause(e)}`, hostFix);
  }
  if (as) {
    const missing = [];
    if (as.issuer !== issuer) missing.push(`issuer is ${JSON.stringify(as.issuer)}, not ${issuer}`);
    for (const f of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint']) {
      if (!secureUrl(as[f])) missing.push(`${f} ${as[f] ? `is not https: ${as[f]}` : 'is missing'}`);
    }
    const has = (f, v) => Array.isArray(as[f]) && as[f].includes(v);
    if (!has('response_types_supported', 'code')) missing.push('response_types_supported lacks "code"');
    if (!has('code_challenge_methods_supported', 'S256')) missing.push('code_challenge_methods_supported lacks "S256" (clients refuse the server)');
    if (!Array.isArray(as.token_endpoint_auth_methods_supported)) missing.push('token_endpoint_auth_methods_supported is missing (ChatGPT needs it)');
    else if (!as.token_endpoint_auth_methods_supported.includes('none')) missing.push('token_endpoint_auth_methods_supported lacks "none" (public clients)');
    for (const g of ['authorization_code', 'refresh_token']) if (!has('grant_types_supported', g)) missing.push(`grant_types_supported lacks "${g}"`);
    if (missing.length) fail('authorization server metadata', missing.join('; '), 'npm run deploy (an outdated or misconfigured Gatehouse)');
    else pass('authorization server metadata', `issuer ${as.issuer}; code + S256, DCR, refresh tokens`);
    if (as.authorization_response_iss_parameter_supported === true) pass('iss advert', 'authorization_response_iss_parameter_supported: true (RFC 9207)');
    else fail('iss advert', 'authorization_response_iss_parameter_supported is not true (ChatGPT needs iss)', 'npm run deploy (an outdated Gatehouse)');
    if (as.client_id_metadata_document_supported === true) pass('Client ID Metadata Documents', 'client_id_metadata_document_supported: true');
    else fail('Client ID Metadata Documents', 'client_id_metadata_document_supported is not true (claude.ai, VS Code and others prefer it)', 'npm run deploy (an outdated Gatehouse)');
  }
  try {
    const r = await http(`${new URL(issuer).origin}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
    if (r.status === 200 && r.json?.issuer === issuer) pass('openid-configuration', 'answers with the same issuer');
    else warnr('openid-configuration', `HTTP ${r.status}${r.json ? `, issuer ${JSON.stringify(r.json.issuer)}` : ''}`, 'some clients look there first; npm run deploy');
  } catch (e) {
    warnr('openid-configuration', cause(e), 'check the host');
  }
  return { prm, issuer, as };
}

function gatehouseErrorFix(text) {
  const variable = /\b([A-Z][A-Z0-9_]{3,})\b/.exec(text)?.[1];
  if (/not configured|temporarily_unavailable|config/i.test(text) && variable) {
    return `fix the setting ${variable} (its message is above; docs/configuration.md), then npm run deploy`;
  }
  return 'see npm run logs for what Gatehouse logged';
}

async function cors(base, mcpUrl) {
  const origin = 'https://inspector.example';
  try {
    const pre = await http(mcpUrl, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-protocol-version, mcp-session-id' },
    });
    const allowOrigin = pre.headers.get('access-control-allow-origin');
    const allowHeaders = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    const missing = ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id'].filter((h) => allowHeaders !== '*' && !allowHeaders.split(/\s*,\s*/).includes(h));
    if (pre.status >= 200 && pre.status < 300 && (allowOrigin === '*' || allowOrigin === origin) && !missing.length) {
      pass('CORS preflight', `OPTIONS /mcp: ${pre.status}, allows ${allowHeaders}`);
    } else {
      fail('CORS preflight', `OPTIONS /mcp: HTTP ${pre.status}, Access-Control-Allow-Origin ${JSON.stringify(allowOrigin)}${missing.length ? `, headers not allowed: ${missing.join(', ')}` : ''}`, 'browser clients (MCP Inspector) cannot connect; something in front of Gatehouse answers OPTIONS (an Access application or a WAF rule on this host?)');
    }
    const get = await http(`${base}/.well-known/oauth-protected-resource/mcp`, { headers: { origin } });
    const exposeOk = get.headers.get('access-control-allow-origin');
    if (exposeOk === '*' || exposeOk === origin) pass('CORS on metadata', 'browser clients may read the discovery documents');
    else fail('CORS on metadata', `no Access-Control-Allow-Origin on the metadata (got ${JSON.stringify(exposeOk)})`, 'something in front of Gatehouse strips CORS headers');
  } catch (e) {
    fail('CORS preflight', cause(e), 'check the host');
  }
}

async function jwks(as) {
  if (!as?.jwks_uri) {
    skip('JWKS', 'no jwks_uri in the metadata');
    return;
  }
  try {
    const r = await http(as.jwks_uri, { headers: { accept: 'application/json' } });
    const keys = r.json?.keys;
    if (r.status !== 200 || !Array.isArray(keys) || !keys.length) {
      fail('JWKS', `${as.jwks_uri}: HTTP ${r.status}, ${Array.isArray(keys) ? `${keys.length} keys` : 'no keys'}`, 'SIGNING_KEY (or SIGNING_KEYS) is missing or wrong: npm run deploy sets it');
      return;
    }
    if (keys.some((k) => 'd' in k)) {
      fail('JWKS', 'a key in the JWKS carries private material ("d")', 'this must never happen: rotate the keys (npm run rotate-key, then --retire) and report it');
      return;
    }
    const bad = keys.filter((k) => !k.kid || k.kty !== 'OKP' || k.crv !== 'Ed25519' || !k.x);
    if (bad.length) fail('JWKS', `${bad.length} key(s) are not Ed25519 public keys with a kid`, 'npm run deploy');
    else pass('JWKS', `${keys.length} Ed25519 key(s): ${keys.map((k) => k.kid).join(', ')}`);
  } catch (e) {
    fail('JWKS', cause(e), 'check the host');
  }
}

function clock() {
  if (!dates.length) {
    skip('clock', 'no Date header seen');
    return;
  }
  const skew = Math.round(dates.reduce((s, d) => s + (d.local - d.server), 0) / dates.length / 1000);
  if (Math.abs(skew) <= MAX_SKEW_SECONDS) pass('clock', `this computer and the server agree within ${Math.max(1, Math.abs(skew))} s`);
  else {
    warnr('clock', `this computer's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} the server's (Date header)`, "set this computer's clock (NTP): tokens carry times, and a client on a skewed machine may take fresh tokens for expired ones");
  }
}

// ---- signing in like a client ---------------------------------------------------------
/** Cookies for Gatehouse's origin: name -> value from Set-Cookie (attributes ignored). */
class Jar {
  cookies = new Map();
  store(headers) {
    for (const line of headers.getSetCookie?.() ?? []) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const unescapeHtml = (s) => s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (m, e) => {
  if (e[0] === '#') return String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()];
});
const attrs = (tag) => Object.fromEntries([...tag.matchAll(/([a-z-]+)\s*=\s*"([^"]*)"/gi)].map((m) => [m[1].toLowerCase(), unescapeHtml(m[2])]));

/** The page's POST forms: { action, hidden: {name: value}, password: bool, decisions: [values] }. */
function forms(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)]
    .map((m) => ({ a: attrs(m[1]), body: m[2] }))
    .filter(({ a }) => (a.method ?? '').toLowerCase() === 'post')
    .map(({ a, body }) => {
      const inputs = [...body.matchAll(/<input\b([^>]*)>/gi)].map((i) => attrs(i[1]));
      const buttons = [...body.matchAll(/<button\b([^>]*)>/gi)].map((b) => attrs(b[1]));
      return {
        action: a.action ?? '',
        hidden: Object.fromEntries(inputs.filter((i) => i.type === 'hidden' && i.name).map((i) => [i.name, i.value ?? ''])),
        password: inputs.some((i) => i.name === 'password'),
        decisions: buttons.filter((b) => b.name === 'decision').map((b) => b.value),
      };
    });
}

/** Registration, PKCE, the owner's pages, the token: { token, clientId } or a failure recorded. */
async function signIn(base, as, resource, password) {
  const redirectUri = 'http://127.0.0.1:9/callback'; // loopback; never listened on: the code is read from the Location
  const reg = await http(as.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Gatehouse doctor', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
  });
  if (reg.status !== 201 || !reg.json?.client_id) {
    fail('sign-in', `registration refused: HTTP ${reg.status} ${short(reg.text)}`, /redirect/i.test(reg.text) ? 'REDIRECT_URI_ALLOWLIST must allow loopback for the doctor (and for Claude Code, Codex…)' : 'see npm run logs');
    return undefined;
  }
  const clientId = reg.json.client_id;
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(as.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state, resource,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  })) authorize.searchParams.set(k, v);

  const jar = new Jar();
  const origin = new URL(base).origin;
  let page = await http(authorize, { headers: { accept: 'text/html' } });
  let location;
  for (let step = 0; step < 10 && !location; step++) {
    jar.store(page.headers);
    if (page.status >= 300 && page.status < 400) {
      const next = new URL(page.headers.get('location') ?? '', page.url);
      if (next.origin !== origin) {
        location = next;
        break;
      }
      page = await http(next, { headers: { accept: 'text/html', cookie: jar.header() } });
      continue;
    }
    const fs = page.status === 200 || page.status === 401 ? forms(page.text) : [];
    const form = fs.find((f) => f.decisions.includes('approve')) ?? fs.find((f) => f.password);
    if (!form) {
      const why = /password sign-in is switched off/i.test(page.text) ? 'password sign-in is off (PASSWORD_LOGIN=off)' : `HTTP ${page.status}: ${short(page.text.replace(/<[^>]+>/g, ' '))}`;
      fail('sign-in', `no sign-in form to fill (${why})`, 'the doctor signs in with the owner password; check that one in a browser');
      return undefined;
    }
    const body = { ...form.hidden };
    if (form.password) body.password = password;
    if (form.decisions.length) body.decision = 'approve';
    page = await http(new URL(form.action, page.url), {
      method: 'POST',
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
      body: new URLSearchParams(body).toString(),
    });
    if (page.status === 401 || page.status === 429) {
      fail('sign-in', page.status === 429 ? 'too many wrong passwords: sign-in is paused for this address' : 'the owner password was refused', page.status === 429 ? 'wait 15 minutes' : 'give the password of this deployment (npm run deploy -- --owner-password-stdin changes it)');
      return undefined;
    }
  }
  const code = location?.searchParams.get('code');
  if (!code || location.searchParams.get('state') !== state) {
    fail('sign-in', location ? `the redirect carried ${location.searchParams.get('error') ?? 'no code'}` : 'no redirect back to the client', 'see npm run logs');
    return undefined;
  }
  if (location.searchParams.get('iss') !== as.issuer) warnr('sign-in iss', `the redirect's iss is ${JSON.stringify(location.searchParams.get('iss'))}`, 'npm run deploy');
  const tok = await http(as.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier, resource }).toString(),
  });
  if (tok.status !== 200 || !tok.json?.access_token) {
    fail('sign-in', `token request: HTTP ${tok.status} ${short(tok.text)}`, 'see npm run logs');
    return undefined;
  }
  pass('sign-in', 'registered, signed in as the owner, consented, got a token (PKCE S256)');
  return { token: tok.json.access_token, clientId };
}

/** The JSON-RPC messages of a JSON or SSE answer. */
function rpcMessages(r) {
  if (/text\/event-stream/.test(r.headers.get('content-type') ?? '')) {
    return r.text.split(/\r?\n\r?\n/).map((ev) => ev.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n')).filter(Boolean).flatMap((d) => {
      try {
        return [JSON.parse(d)];
      } catch {
        return [];
      }
    });
  }
  return r.json === undefined ? [] : [].concat(r.json);
}

async function throughGatehouse(mcpUrl, token) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL_VERSION };
  const init = await http(mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'gatehouse-doctor', version: '1' } } }),
  });
  const reply = rpcMessages(init).find((m) => m.id === 1);
  if (init.status === 502 || init.status === 504) {
    fail('origin', `Gatehouse could not get an answer from your MCP server (HTTP ${init.status}: ${reply?.error?.message ?? short(init.text)})`,
      init.status === 504
        ? 'the MCP server took longer than ORIGIN_TIMEOUT_SECONDS to answer: is it busy or stuck?'
        : 'is the MCP server running, and the tunnel up (cloudflared on its machine; `cloudflared tunnel info`)? Is ORIGIN_URL (or the ORIGIN binding) right? With an Access-protected origin: is the service token in the application\'s Service Auth policy? npm run logs shows the details');
    return;
  }
  if (init.status === 503) {
    fail('origin', `Gatehouse is not configured: ${short(init.text)}`, gatehouseErrorFix(init.text));
    return;
  }
  if (init.status !== 200 || !reply) {
    const html = /<html/i.test(init.text);
    fail('origin', `HTTP ${init.status} from ${mcpUrl}${html ? ' with an HTML page (a login page in front of the origin?)' : `: ${short(init.text)}`}`,
      html ? 'Cloudflare Access protects the origin but does not let Gatehouse in: set GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID/_SECRET and npm run deploy; the policy action must be Service Auth' : 'is ORIGIN_URL the MCP endpoint (often …/mcp)? npm run logs');
    return;
  }
  if (reply.error) {
    warnr('origin', `your MCP server answered initialize with an error: ${reply.error.message}`, 'the connection works; the error is the MCP server\'s own');
    return;
  }
  const info = reply.result?.serverInfo;
  let tools = '';
  const session = init.headers.get('mcp-session-id');
  const more = { ...headers, ...(session ? { 'mcp-session-id': session } : {}) };
  await http(mcpUrl, { method: 'POST', headers: more, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) }).catch(() => {});
  const list = await http(mcpUrl, { method: 'POST', headers: more, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) }).catch(() => undefined);
  const listed = list && rpcMessages(list).find((m) => m.id === 2)?.result?.tools;
  if (Array.isArray(listed)) tools = `, ${listed.length} tool(s)${listed.length ? `: ${listed.slice(0, 5).map((t) => t.name).join(', ')}${listed.length > 5 ? ', …' : ''}` : ''}`;
  pass('origin', `your MCP server answers through Gatehouse (${info?.name ?? 'unnamed'} ${info?.version ?? ''}`.trim() + `${tools})`);
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function askHidden(question) {
  const { stdin } = process;
  process.stdout.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((res) => {
    let value = '';
    const onData = (chunk) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0003') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stdout.write('\n');
          return res(ch === '\u0003' ? '' : value);
        }
        value = ch === '\u007f' ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function main() {
  requireNode();
  const { values, positionals } = parseOptions(
    { 'sign-in': { type: 'boolean' }, 'password-stdin': { type: 'boolean' }, timeout: { type: 'string' } },
    USAGE,
    { positionals: true },
  );
  if (positionals.length !== 1) throw new Stop(`give the Gatehouse URL to check\n${USAGE}`);
  let target;
  try {
    target = new URL(positionals[0].includes('://') ? positionals[0] : `https://${positionals[0]}`);
  } catch {
    throw new Stop(`not a URL: ${JSON.stringify(positionals[0])}`);
  }
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && isLoopback(target.href))) {
    throw new Stop(`use the https URL (MCP clients require https; plain http only for 127.0.0.1/localhost): ${target.href}`);
  }
  if (values.timeout !== undefined) {
    const t = Number(values.timeout);
    if (!(t > 0 && t <= 300)) throw new Stop('--timeout must be a number of seconds (1-300)');
    timeoutMs = t * 1000;
  }
  const base = target.origin;
  const mcpUrl = target.pathname === '/' ? `${base}/mcp` : `${base}${target.pathname.replace(/\/$/, '')}`;

  let password = process.env.GATEHOUSE_OWNER_PASSWORD;
  if (values['password-stdin']) password = await readStdin();
  const signInWanted = values['sign-in'] || values['password-stdin'] || password !== undefined;
  if (signInWanted && password === undefined) {
    if (!process.stdin.isTTY) throw new Stop('--sign-in needs the owner password: set GATEHOUSE_OWNER_PASSWORD or pass --password-stdin');
    password = await askHidden('Owner password (to sign in like a client): ');
  }

  say(`Gatehouse doctor: ${mcpUrl}\n`);
  const { as, prm } = await discovery(base, mcpUrl);
  await cors(base, mcpUrl);
  await jwks(as);
  if (!signInWanted) skip('origin', 'not checked: add --sign-in (or set GATEHOUSE_OWNER_PASSWORD) to sign in as the owner and call your MCP server through Gatehouse');
  else if (!as) skip('origin', 'not checked: the metadata above is needed to sign in');
  else {
    const got = await signIn(base, as, prm?.resource ?? mcpUrl, password).catch((e) => fail('sign-in', cause(e), 'check the host') ?? undefined);
    if (!got) skip('origin', 'not checked: signing in failed (above)');
    else {
      await throughGatehouse(mcpUrl, got.token);
      // Leave nothing behind: revoking the token revokes the doctor's grant.
      if (as.revocation_endpoint) {
        await http(as.revocation_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: got.token, client_id: got.clientId }).toString(),
        }).catch(() => {});
      }
    }
  }
  clock();

  const count = (s) => results.filter((r) => r.status === s).length;
  say(`\n${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings${count('skip') ? `, ${count('skip')} skipped` : ''}.`);
  if (count('fail')) process.exit(1);
}

runMain(main);
