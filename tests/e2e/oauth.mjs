// Small OAuth helpers for the end-to-end tests: plain HTTP against Gatehouse, no SDK.
import { createHash, randomBytes } from 'node:crypto';
import { approveAsOwner } from './owner.mjs';

const TIMEOUT_MS = 10_000;

export const LOOPBACK_REDIRECT = 'http://127.0.0.1:47123/callback';

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

async function readBody(res) {
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

export async function get(url, headers = {}) {
  return readBody(await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) }));
}

export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return readBody(res);
}

export async function postForm(url, params, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(params).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return readBody(res);
}

/** RFC 7591 registration of a public client; returns the parsed response. */
export function register(base, metadata = {}, headers = {}) {
  return postJson(`${base}/register`, {
    client_name: 'gatehouse e2e',
    redirect_uris: [LOOPBACK_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...metadata,
  }, headers);
}

export function authorizeUrl(base, params) {
  const u = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

/**
 * A fresh /authorize request (PKCE S256, a random state) for a registered client at the loopback
 * redirect (or `redirectUri`): { url, pkce, state }.
 */
export function newAuthorization(base, clientId, resource, redirectUri = LOOPBACK_REDIRECT) {
  const pkce = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const url = authorizeUrl(base, {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    state,
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    resource,
  });
  return { url, pkce, state };
}

/**
 * The whole authorization-code flow by hand: register, owner approves, code for tokens.
 * Returns { client, location, code, pkce, token } where token is the /token response.
 */
export async function manualFlow(h, { redirectUri = LOOPBACK_REDIRECT, redeem = true } = {}) {
  const reg = await register(h.base, { redirect_uris: [redirectUri] });
  if (reg.status !== 201 || !reg.json?.client_id) {
    throw new Error(`registration failed: ${reg.status} ${reg.text.slice(0, 300)}`);
  }
  const client = reg.json;
  const pkce = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const { location } = await approveAsOwner(
    authorizeUrl(h.base, {
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: redirectUri,
      state,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      resource: h.mcpUrl,
    }),
    { base: h.base, password: h.password },
  );
  const loc = new URL(location);
  const code = loc.searchParams.get('code');
  const flow = { client, location: loc, code, state, pkce, redirectUri };
  if (redeem) flow.token = await redeemCode(h, flow);
  return flow;
}

export function redeemCode(h, { client, code, pkce, redirectUri }, overrides = {}, headers = {}) {
  return postForm(`${h.base}/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: client.client_id,
    code_verifier: pkce.verifier,
    resource: h.mcpUrl,
    ...overrides,
  }, headers);
}

export function refresh(h, clientId, refreshToken, headers = {}) {
  return postForm(`${h.base}/token`, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: clientId,
    resource: h.mcpUrl,
  }, headers);
}

export function decodeJwt(token) {
  const [header, payload, signature] = token.split('.');
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: dec(header), payload: dec(payload), signingInput: `${header}.${payload}`, signature };
}

/** Parses `Bearer k="v", k2=v2` into { scheme, params }. */
export function parseChallenge(value) {
  const m = /^\s*(\S+)\s*(.*)$/.exec(value ?? '');
  if (!m) return { scheme: '', params: {} };
  const params = {};
  for (const p of m[2].matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return { scheme: m[1], params };
}

/** An MCP initialize request as JSON-RPC, the first thing every client sends. */
export function initializeBody(id = 1) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gatehouse-e2e-raw', version: '0' } },
  };
}

/** POSTs an MCP message and reads the whole answer (JSON or a short SSE stream). */
export async function mcpPost(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return readBody(res);
}

/**
 * POSTs `bytes` to an MCP URL as a stream of 1000-byte chunks: no Content-Length, so the worker
 * sees a chunked body. `headers` are the session's (authorization, mcp-session-id).
 */
export function postChunked(url, headers, bytes) {
  return fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += 1000) c.enqueue(bytes.subarray(i, i + 1000));
        c.close();
      },
    }),
    duplex: 'half',
    signal: AbortSignal.timeout(10_000),
  });
}
