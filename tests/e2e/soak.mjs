// The soak (issue 16 §1): many OAuth flows at once, as MCP hosts run them (register →
// authorize → the owner's sign-in and consent → token → MCP calls → refreshes, several racing
// per grant as hosts do after a network failure), a steady load of authenticated MCP calls, and
// workerd killed (SIGKILL) and restarted on the same local D1 at random points. Afterwards the
// clients' records and D1 are checked against the invariants below. Used by
// tests/e2e/soak.test.mjs (a short run in npm test) and scripts/soak.mjs (`npm run soak`).
//
// Invariants:
//  - every request got an answer in its endpoint's shape: no 5xx other than a 503 with
//    Retry-After, no hang past the client timeout; a refused connection is counted only while
//    workerd is down, and the client retries as hosts do;
//  - every token answered with 200 still works at the end, or was rotated: the last refresh
//    token of every live grant refreshes, its access token calls a tool;
//  - no code was redeemed twice (each 200 for a code is its only one);
//  - no grant was revoked unless its client reused a code or a refresh token after the grace
//    window (the client's record says so);
//  - nothing half-written in D1: no code or refresh token without its grant, no grant without its
//    code;
//  - workerd's resident memory, sampled through the run, stays flat between restarts (reported).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Browser, approveAsOwner } from './owner.mjs';
import { LOOPBACK_REDIRECT, authorizeUrl, pkcePair, postForm, postJson } from './oauth.mjs';

const TIMEOUT_MS = 30_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The run's figures and findings. */
class Record {
  constructor() {
    this.requests = 0;
    this.byKind = {}; // "endpoint status" -> count
    this.latencies = [];
    this.violations = [];
    this.refused = 0; // connections refused while workerd was down
    this.hangs = 0;
    this.originFailures = 0; // /mcp answered 502/504 in JSON-RPC shape: the origin failed
    this.codeRedemptions = new Map(); // code -> count of 200
    this.reusedCodes = new Set(); // hashes of codes sent again after their answer was lost in a kill
    this.lostInKill = 0; // flows whose code exchange answer was lost in a kill (the retry is a reuse)
    this.flowsDone = 0;
    this.flowsFailed = 0;
    this.memory = []; // { t, rss, segment }
  }
  count(kind) {
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
  }
  violate(what) {
    if (this.violations.length < 50) this.violations.push(what);
  }
}

/**
 * One HTTP request as a host sends it: retried after a refused connection (workerd down) until
 * `deadline`, each answer checked for its shape.
 */
async function send(rec, state, endpoint, url, init) {
  for (let attempt = 0; ; attempt++) {
    const t0 = performance.now();
    let res;
    let text;
    try {
      res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
      text = await res.text();
    } catch (e) {
      const code = e.cause?.code ?? e.name;
      // Refused (workerd down), or cut off mid-answer ("terminated") by the kill.
      if (['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(code) || e.message === 'terminated' || state.restarting) {
        rec.refused++;
        if (attempt > 200) throw new Error(`${endpoint}: no answer after ${attempt} retries`);
        await sleep(250);
        continue;
      }
      if (e.name === 'TimeoutError') {
        rec.hangs++;
        rec.violate(`${endpoint}: no answer within ${TIMEOUT_MS} ms`);
      }
      throw e;
    }
    rec.requests++;
    rec.latencies.push(performance.now() - t0);
    rec.count(`${endpoint} ${res.status}`);
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      /* pages and SSE */
    }
    // The origin failing (502: unreachable, 504: too slow) is answered in JSON-RPC's shape, as
    // MCP clients expect; counted, not a fault of the gateway's own.
    const originFailure = endpoint === 'mcp' && (res.status === 502 || res.status === 504) && json?.jsonrpc === '2.0' && json?.error;
    if (originFailure) rec.originFailures++;
    else if (res.status >= 500 && !(res.status === 503 && res.headers.get('retry-after'))) {
      rec.violate(`${endpoint}: ${res.status} ${text.slice(0, 200)}`);
    }
    if (res.status === 503) {
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      continue; // a host retries a 503 after Retry-After
    }
    return { status: res.status, headers: res.headers, text, json, retried: attempt > 0 };
  }
}

const form = (params) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  body: new URLSearchParams(params).toString(),
});

const mcpInit = (token, body, session) => ({
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
    'mcp-protocol-version': '2025-06-18',
    ...(session ? { 'mcp-session-id': session } : {}),
  },
  body: JSON.stringify(body),
});

/** initialize, then tools/call echo, as one MCP session. Returns the HTTP status of the call. */
async function mcpSession(rec, state, h, token) {
  const init = await send(rec, state, 'mcp', h.mcpUrl, mcpInit(token, {
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'soak', version: '0' } },
  }));
  if (init.status !== 200) return init.status;
  const session = init.headers.get('mcp-session-id');
  const call = await send(rec, state, 'mcp', h.mcpUrl, mcpInit(token, {
    jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'soak' } },
  }, session));
  if (call.status === 200 && !call.text.includes('soak')) rec.violate(`tools/call answered without the echo: ${call.text.slice(0, 200)}`);
  return call.status;
}

/** One host's connection: returns { client, grant, refreshToken, accessToken } or null. */
async function flow(rec, state, h, i, refreshRace) {
  const reg = await send(rec, state, 'register', `${h.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: `soak ${i}`, redirect_uris: [LOOPBACK_REDIRECT], token_endpoint_auth_method: 'none' }),
  });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text.slice(0, 200)}`);
  const client = reg.json.client_id;
  const pkce = pkcePair();
  let location;
  for (let attempt = 0; !location; attempt++) {
    try {
      ({ location } = await approveAsOwner(authorizeUrl(h.base, {
        response_type: 'code', client_id: client, redirect_uri: LOOPBACK_REDIRECT, state: randomBytes(8).toString('base64url'),
        code_challenge: pkce.challenge, code_challenge_method: 'S256', resource: h.mcpUrl,
      }), { browser: state.owner, password: h.password }));
    } catch (e) {
      // A restart during the walk: the person starts again from the client, as they would.
      if (attempt < 20 && (state.restarting || /fetch failed|terminated|ECONNREFUSED|expired|503/.test(String(e.message)))) {
        rec.count('owner walk restarted');
        await sleep(500);
        continue;
      }
      throw e;
    }
  }
  rec.requests += 3;
  const code = new URL(location).searchParams.get('code');
  const t = await send(rec, state, 'token code', `${h.base}/token`, form({
    grant_type: 'authorization_code', code, redirect_uri: LOOPBACK_REDIRECT, client_id: client, code_verifier: pkce.verifier, resource: h.mcpUrl,
  }));
  if (t.status === 200) rec.codeRedemptions.set(code, (rec.codeRedemptions.get(code) ?? 0) + 1);
  if (t.status === 400 && t.retried) {
    // The first exchange may have been done when workerd was killed before it could answer:
    // the retry is then a second redemption, which must fail and revoke the grant (RFC 9700
    // §4.5.3; requirements.md §D). The host starts the connection again, as it would.
    rec.reusedCodes.add(createHash('sha256').update(code).digest('base64url'));
    rec.lostInKill++;
    return flow(rec, state, h, `${i}+`, refreshRace);
  }
  if (t.status !== 200) throw new Error(`code exchange: ${t.status} ${t.text.slice(0, 200)}`);
  // Gatehouse's tokens are JWTs naming their grant; the baseline's are opaque `user:grant:secret`.
  const parts = t.json.access_token.split('.');
  const grant = parts.length === 3 ? JSON.parse(Buffer.from(parts[1], 'base64url')).gid : t.json.access_token.split(':')[1];
  let access = t.json.access_token;
  let rt = t.json.refresh_token;
  const status = await mcpSession(rec, state, h, access);
  if (status !== 200 && status !== 502 && status !== 504) rec.violate(`a fresh token's MCP call: ${status}`);
  for (let round = 0; round < 2; round++) {
    // Hosts refresh in parallel (several tabs, a retry after a lost answer): all within the grace window.
    const answers = await Promise.all(
      Array.from({ length: refreshRace }, () => send(rec, state, 'token refresh', `${h.base}/token`, form({
        grant_type: 'refresh_token', refresh_token: rt, client_id: client, resource: h.mcpUrl,
      }))),
    );
    const ok = answers.filter((a) => a.status === 200);
    if (ok.length !== answers.length) rec.violate(`refresh race: ${answers.map((a) => a.status).join(',')} ${answers.find((a) => a.status !== 200)?.text.slice(0, 200)}`);
    if (!ok.length) throw new Error('no refresh of the race succeeded');
    const successors = new Set(ok.map((a) => a.json.refresh_token).filter(Boolean));
    if (successors.size > 1) rec.violate(`a refresh race forked the family into ${successors.size} tokens`);
    rt = [...successors][0] ?? rt;
    access = ok[0].json.access_token;
    const called = await mcpSession(rec, state, h, access);
    if (called !== 200 && called !== 502 && called !== 504) rec.violate(`a refreshed token does not call a tool: ${called}`);
  }
  return { client, grant, refreshToken: rt, accessToken: access };
}

/** The resident memory (kB) of this harness's workerd: the `workerd` processes in its group
 * (`wrangler dev`), or the one process `pid` (Miniflare, for the baseline). */
function workerdRss(group, pid) {
  if (pid) {
    try {
      return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) || 0;
    } catch {
      return 0;
    }
  }
  if (!group) return 0;
  try {
    const out = execFileSync('ps', ['-eo', 'pgid=,rss=,comm='], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([pgid, , comm]) => Number(pgid) === group && comm === 'workerd')
      .reduce((sum, [, rss]) => sum + Number(rss), 0);
  } catch {
    return 0;
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs the soak against harness `h` (started with `REFRESH_GRACE_SECONDS` long enough for a
 * race). Options: flows (concurrent), restarts (workerd killed and restarted at random points),
 * steadySeconds (the steady MCP load runs at least this long), refreshRace (parallel refreshes).
 * Returns the report; `report.violations` is empty when the invariants hold.
 */
export async function runSoak(h, { flows = 20, restarts = 1, steadySeconds = 20, refreshRace = 3, restartWindowMs = 4000, log = () => {} } = {}) {
  const rec = new Record();
  // One owner in one browser, as in life: signed in once (by the first flow), then asked only
  // to consent for each client. Many concurrent password sign-ins from one address would meet
  // the sign-in attempt limit, which reserves at most 5 comparisons at a time.
  const state = { restarting: false, segment: 0, owner: new Browser(h.base) };
  const started = Date.now();
  const sample = () => state.restarting || rec.memory.push({ t: Date.now() - started, rss: workerdRss(h.workerGroup?.(), h.workerPid?.()), segment: state.segment });
  const sampler = setInterval(sample, 1000);

  // A steady load of authenticated MCP calls beside the flows.
  const steadyToken = (await flow(rec, state, h, 'steady', 1)).accessToken;
  let steadyCalls = 0;
  let stopSteady = false;
  const steady = (async () => {
    const until = Date.now() + steadySeconds * 1000;
    while (!stopSteady || Date.now() < until) {
      const s = await mcpSession(rec, state, h, steadyToken).catch((e) => (rec.violate(`steady: ${e.message}`), 0));
      if (s !== 200 && s !== 502 && s !== 504) rec.violate(`steady MCP call: ${s}`);
      steadyCalls++;
      if (stopSteady && Date.now() >= until) break;
    }
  })();

  // Restarts at random points while the flows run.
  const restartsDone = [];
  const killer = (async () => {
    for (let i = 0; i < restarts; i++) {
      await sleep(restartWindowMs * (0.2 + 0.6 * Math.random()) / restarts);
      state.restarting = true;
      const t0 = Date.now();
      await h.restart({ kill: true });
      state.segment++;
      state.restarting = false;
      restartsDone.push({ at: t0 - started, tookMs: Date.now() - t0 });
      log(`workerd killed and restarted (${Date.now() - t0} ms)`);
    }
  })();

  const results = await Promise.allSettled(Array.from({ length: flows }, (_, i) => flow(rec, state, h, i, refreshRace)));
  await killer;
  stopSteady = true;
  await steady;
  clearInterval(sampler);
  sample();
  const grants = [];
  for (const r of results) {
    if (r.status === 'fulfilled') {
      rec.flowsDone++;
      grants.push(r.value);
    } else {
      rec.flowsFailed++;
      rec.violate(`a flow failed: ${String(r.reason?.message ?? r.reason).slice(0, 300)}`);
    }
  }

  // Every token answered with 200 still works or was rotated: the last of each family works.
  for (const g of grants) {
    if ((await mcpSession(rec, state, h, g.accessToken)) !== 200) rec.violate(`grant ${g.grant}: its last access token no longer works`);
    const r = await send(rec, state, 'token refresh', `${h.base}/token`, form({ grant_type: 'refresh_token', refresh_token: g.refreshToken, client_id: g.client, resource: h.mcpUrl }));
    if (r.status !== 200) rec.violate(`grant ${g.grant}: its last refresh token was refused: ${r.status} ${r.text.slice(0, 200)}`);
  }
  for (const [code, n] of rec.codeRedemptions) if (n > 1) rec.violate(`code ${code.slice(0, 6)}… redeemed ${n} times`);

  // D1's side (Gatehouse only: the baseline keeps the library's own records in KV).
  let revoked = [];
  let grantRows = { n: null };
  if (h.sql) {
    const [orphanCodes] = await h.sql('SELECT COUNT(*) AS n FROM auth_codes c LEFT JOIN grants g ON g.grant_id = c.grant_id WHERE g.grant_id IS NULL');
    const [orphanRefresh] = await h.sql('SELECT COUNT(*) AS n FROM refresh_tokens r LEFT JOIN grants g ON g.grant_id = r.grant_id WHERE g.grant_id IS NULL');
    const [codeless] = await h.sql('SELECT COUNT(*) AS n FROM grants g WHERE NOT EXISTS (SELECT 1 FROM auth_codes c WHERE c.grant_id = g.grant_id)');
    if (orphanCodes.n) rec.violate(`${orphanCodes.n} codes without their grant`);
    if (orphanRefresh.n) rec.violate(`${orphanRefresh.n} refresh tokens without their grant`);
    if (codeless.n) rec.violate(`${codeless.n} grants without their code`);
    revoked = await h.sql('SELECT g.grant_id, c.code_hash FROM grants g JOIN auth_codes c ON c.grant_id = g.grant_id WHERE g.revoked_at IS NOT NULL');
    for (const r of revoked) if (!rec.reusedCodes.has(r.code_hash)) rec.violate(`grant ${r.grant_id} revoked though its client reused nothing`);
    [grantRows] = await h.sql('SELECT COUNT(*) AS n FROM grants');
  }
  const sorted = rec.latencies.slice().sort((a, b) => a - b);
  const segments = {};
  for (const m of rec.memory.filter((m) => m.rss > 0)) (segments[m.segment] ??= []).push(m.rss);
  return {
    flows,
    flowsCompleted: rec.flowsDone,
    flowsFailed: rec.flowsFailed,
    grantsInD1: grantRows.n,
    revokedGrants: revoked.length,
    codeAnswersLostInKill: rec.lostInKill,
    requests: rec.requests,
    steadyCalls,
    answersByKind: rec.byKind,
    refusedWhileDown: rec.refused,
    originFailures: rec.originFailures,
    hangs: rec.hangs,
    p50ms: Math.round(percentile(sorted, 50) * 10) / 10,
    p99ms: Math.round(percentile(sorted, 99) * 10) / 10,
    restarts: restartsDone,
    memoryKbBySegment: Object.fromEntries(Object.entries(segments).map(([s, v]) => [s, { samples: v.length, first: v[0], last: v.at(-1), max: Math.max(...v) }])),
    seconds: Math.round((Date.now() - started) / 1000),
    violations: rec.violations,
  };
}
