// Sequential D1 round trips per request (issue 14, target 4), read from the fault build's
// counter: Gatehouse built with `test-faults` (build-faults/, never deployed) answers every
// request with `x-gatehouse-test-round-trips`, the round trips to D1 it awaited one after the
// other (a batch is one; src/edge/d1/faults.rs). The walk is an MCP client's first connection:
// registration, a first authorization by password, the code exchange, a refresh, a second
// client authorized by the owner already signed in (the consent page), then MCP requests.
// tests/e2e/storage_faults.test.mjs asserts the same counts; this puts them in RESULTS.md.
import { LOOPBACK_REDIRECT, initializeBody, mcpPost, newAuthorization, redeemCode, refresh, register } from '../../tests/e2e/oauth.mjs';
import { Browser, approveAsOwner } from '../../tests/e2e/owner.mjs';

const HEADER = 'x-gatehouse-test-round-trips';

/** The counter of one answer; a build without it is a mistake, not a zero. */
function trips(headers, what) {
  const v = headers.get(HEADER);
  if (v === null || !/^\d+$/.test(v)) throw new Error(`${what}: no ${HEADER} header (is this the build-faults/ build?)`);
  return Number(v);
}

function expect(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${String(r.text ?? '').slice(0, 200)}`);
}

/** A client and its first authorization by the owner, in `browser`: one row per request. */
async function authorize(h, browser, rows, label) {
  const reg = await register(h.base, { redirect_uris: [LOOPBACK_REDIRECT] });
  expect(reg, 201, 'POST /register');
  rows.push({ request: 'POST /register', trips: trips(reg.headers, 'POST /register') });
  const { url, pkce } = newAuthorization(h.base, reg.json.client_id, h.mcpUrl);
  const from = browser.trace.length;
  const { location } = await approveAsOwner(url, { browser, password: h.password });
  for (const step of browser.trace.slice(from)) {
    const request = `${step.method} ${new URL(step.url).pathname}`;
    rows.push({ request: `${request} (${label})`, trips: trips(step.headers, request) });
  }
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`${label}: no code in ${location}`);
  return { client: reg.json, code, pkce };
}

/**
 * The walk against `h` ({ base, mcpUrl, password }, a Gatehouse from build-faults/). Returns
 * [{ request, trips }] in the order sent; the last `/mcp` rows are the hot path (the token and
 * the revocation view already in the isolate).
 */
export async function roundTrips(h) {
  const rows = [];
  const browser = new Browser(h.base);
  const first = await authorize(h, browser, rows, 'first authorization, password');
  const t = await redeemCode(h, { ...first, redirectUri: LOOPBACK_REDIRECT });
  expect(t, 200, 'POST /token (code)');
  rows.push({ request: 'POST /token (code)', trips: trips(t.headers, 'POST /token (code)') });
  const r = await refresh(h, first.client.client_id, t.json.refresh_token);
  expect(r, 200, 'POST /token (refresh)');
  rows.push({ request: 'POST /token (refresh)', trips: trips(r.headers, 'POST /token (refresh)') });
  await authorize(h, browser, rows, 'owner signed in, a new client');
  const auth = { authorization: `Bearer ${r.json.access_token}` };
  const mcp = async (what, body, headers, status) => {
    const res = await mcpPost(h.mcpUrl, body, headers);
    expect(res, status, `POST /mcp ${what}`);
    rows.push({ request: `POST /mcp (${what})`, trips: trips(res.headers, 'POST /mcp') });
    return res;
  };
  const init = await mcp('initialize, a token new to the isolate', initializeBody(), auth, 200);
  const version = /"protocolVersion"\s*:\s*"([^"]+)"/.exec(init.text)?.[1];
  const session = { ...auth, 'mcp-session-id': init.headers.get('mcp-session-id'), ...(version ? { 'mcp-protocol-version': version } : {}) };
  await mcp('notifications/initialized', { jsonrpc: '2.0', method: 'notifications/initialized' }, session, 202);
  for (const id of [2, 3]) {
    const call = await mcp('tools/call, the hot path', { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: 'round trips' } } }, session, 200);
    if (!call.text.includes('round trips')) throw new Error(`POST /mcp tools/call: the echo did not come back: ${call.text.slice(0, 200)}`);
  }
  return rows;
}
