// `npm run bench` (after scripts/bench.sh has set up and built): Gatehouse beside the demo
// origin called directly and beside a baseline gateway built on
// @cloudflare/workers-oauth-provider (bench/baseline/worker.ts), all on 127.0.0.1, both
// gateways under the same runner: the Miniflare API, one workerd process per worker (no
// `wrangler dev`, whose Node proxy would spend CPU on every outgoing request). A third worker,
// bench/reference/passthrough.js (forwarding with no auth), measures the runner's own floor; a
// fourth, the Rust floor (bench/reference/rust-floor, built by scripts/bench.sh), the least a
// worker written with the `worker` crate costs on the same paths.
//
// Measures, in one run, BENCH_REPS repetitions of each (interleaved, so drift hits all alike):
// authenticated MCP `tools/call` (echo) throughput and latency, the 401 paths (no token, forged token),
// one full OAuth flow (DCR -> authorize -> owner login/consent -> token), the gateway runtime's
// CPU per request, the wasm size; and, for every load run, the CPU the rest of the machine used.
// Prints the table and writes bench/RESULTS.md.
//
// Environment: BENCH_REPS (5), BENCH_SECONDS (5: each authenticated run), BENCH_401_SECONDS (3),
// BENCH_CONNECTIONS (16), BENCH_COLD_SAMPLES (15 fresh workerd per worker), BENCH_ISOLATE_SAMPLES (30
// new isolates per worker in one workerd), BENCH_FLOWS (20), BENCH_TIME_LIMIT (600 s
// for the whole run).
//
// Flags (`npm run bench -- <flags>`), for working on the hot path; none of them writes RESULTS.md:
//   --quick        only the authenticated `tools/call` path of Gatehouse and of the passthrough
//                  (the runner's floor), 3 repetitions of 3 s unless BENCH_REPS / BENCH_SECONDS say
//                  otherwise; prints CPU per request and Gatehouse's cost above the floor.
//   --ab=<dir>     with --quick: also a second Gatehouse built into <dir> (a copy of another
//                  build/), interleaved with the first, so two builds are compared in one run on
//                  the same (possibly noisy) machine.
//   --ladder=<dir>,<dir>,...  with --quick, on `tools/call` or --path=401: like --ab with several builds (spikes that
//                  each leave out one more piece of the work), all interleaved in one run, their
//                  order rotated every repetition; prints each build's difference from Gatehouse
//                  and from the build before it, per repetition and median.
//   --path=401     with --quick: the no-token 401 instead of `tools/call`, beside the baseline
//                  (workers-oauth-provider, the peer) instead of the passthrough, which has no 401.
//   --path=cold    with --quick: cold starts only, Gatehouse (and the --ab build) beside the
//                  passthrough and the baseline: new isolates in one running workerd
//                  (BENCH_ISOLATE_SAMPLES per worker, bench/lib/isolates.mjs), then fresh workerd
//                  processes (BENCH_COLD_SAMPLES per worker); prints medians of each.
//   --path=flow    with --quick: OAuth flows only (BENCH_FLOWS per worker, interleaved), Gatehouse
//                  (and the --ab build) beside the baseline; prints the whole flow and the time of
//                  each of its requests (POST /register, GET /authorize, ...), medians.
//   --path=trips   with --quick: only the sequential D1 round trips per request (target 4), from
//                  Gatehouse's fault build (build-faults/, which scripts/bench.sh builds).
//   --path=calls   with --quick: the calls each wasm worker makes into JavaScript per `tools/call`
//                  and per no-token 401 (the runtime's APIs through wasm-bindgen's glue), counted in
//                  copies of Gatehouse's build and of the Rust floors (bench/lib/calls.mjs); counts,
//                  no timings.
//   --rust-floor   with --quick: also the Rust floor (bench/reference/rust-floor) and, on
//                  `tools/call`, the floor with Gatehouse's origin timeout (its `deadline`
//                  feature) and the floor sending headers of the sizes of Gatehouse's identity
//                  headers (`identity`), all built by scripts/bench.sh into bench/.tmp/rust-floor*.
//   --profile      with --quick: afterwards, one more run of Gatehouse under workerd's CPU
//                  profiler; writes bench/.profiles/gatehouse-<time>.cpuprofile and prints the
//                  functions with the most self and total time. With --path=cold: the first
//                  request of one more fresh Gatehouse, sampled every 20 µs.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freePort } from '../tests/e2e/ports.mjs';
import { cpus, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { childPids, clockTicks, threadsCpuMs } from './lib/cpu.mjs';
import { loadRun } from './lib/load.mjs';
import { profileDuring } from './lib/profile.mjs';
import { countingCopy, countedWindows, lastCounts, callsTable, WINDOW } from './lib/calls.mjs';
import { splitSql } from './lib/sql.mjs';
import { median as med, writeResults } from './lib/report.mjs';
import { builtWorker, coldIsolates, scriptWorker } from './lib/isolates.mjs';
import { roundTrips } from './lib/round_trips.mjs';
import { LOOPBACK_REDIRECT, authorizeUrl, initializeBody, manualFlow, mcpPost, pkcePair, register } from '../tests/e2e/oauth.mjs';
import { Browser, fillForm, parseForms } from '../tests/e2e/owner.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const int = (name, dflt, min, max) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`[bench] ERROR: ${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    process.exit(2);
  }
  return n;
};
const FLAGS = { quick: false, ab: null, ladder: [], profile: false, path: 'call', rustFloor: false };
for (const arg of process.argv.slice(2)) {
  if (arg === '--quick') FLAGS.quick = true;
  else if (['--path=call', '--path=401', '--path=cold', '--path=flow', '--path=trips', '--path=calls'].includes(arg)) FLAGS.path = arg.slice(7);
  else if (arg === '--profile') FLAGS.profile = true;
  else if (arg === '--rust-floor') FLAGS.rustFloor = true;
  else if (arg.startsWith('--ab=') && arg.length > 5) FLAGS.ab = resolve(arg.slice(5));
  else if (arg.startsWith('--ladder=') && arg.length > 9) FLAGS.ladder = arg.slice(9).split(',').filter(Boolean).map((d) => resolve(d));
  else {
    console.error(`[bench] ERROR: unknown argument "${arg}" (flags: --quick, --ab=<build dir>, --ladder=<dir>,<dir>,..., --profile, --path=call|401|cold|flow|trips|calls, --rust-floor)`);
    process.exit(2);
  }
}
if (FLAGS.ladder.length && (FLAGS.ab || !['call', '401'].includes(FLAGS.path) || !FLAGS.quick)) {
  console.error('[bench] ERROR: --ladder goes with --quick on the tools/call or the 401 path, without --ab');
  process.exit(2);
}
if ((FLAGS.ab || FLAGS.profile || FLAGS.rustFloor || FLAGS.path !== 'call') && !FLAGS.quick) {
  console.error('[bench] ERROR: --ab, --profile, --rust-floor and --path go with --quick (the full run must stay comparable)');
  process.exit(2);
}
const CONFIG = {
  reps: int('BENCH_REPS', FLAGS.quick ? 3 : 5, 1, 20),
  seconds: int('BENCH_SECONDS', FLAGS.quick ? 3 : 5, 1, 60),
  unauthSeconds: int('BENCH_401_SECONDS', 3, 1, 60),
  warmupSeconds: FLAGS.quick ? 1 : 2,
  connections: int('BENCH_CONNECTIONS', 16, 1, 256),
  timeLimit: int('BENCH_TIME_LIMIT', 600, 60, 3600),
  // Cold starts are cheap (~0.3 s each) and noisy: more samples than load runs.
  coldSamples: int('BENCH_COLD_SAMPLES', 15, 1, 100),
  // New isolates in one running workerd (target 5): ~0.05 s each, and steadier.
  isolateSamples: int('BENCH_ISOLATE_SAMPLES', 30, 1, 200),
  // OAuth flows per worker (the full run's, and `--path=flow`'s).
  flows: int('BENCH_FLOWS', 20, 1, 200),
};
const ECHO = 'gatehouse-bench-echo';
/** An MCP POST's headers without a token: what every 401 path sends. */
const NO_TOKEN = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const log = (...a) => console.log('[bench]', ...a);

const tmp = join(ROOT, 'bench/.tmp', `run-${process.pid}`);
const cleanups = [];
async function cleanup() {
  for (const f of cleanups.splice(0).reverse()) {
    try {
      await f();
    } catch {
      /* best effort */
    }
  }
}
// Bounded in time: whatever hangs, the run ends.
const limit = setTimeout(async () => {
  console.error(`[bench] ERROR: time limit of ${CONFIG.timeLimit} s reached (BENCH_TIME_LIMIT); stopping`);
  await cleanup();
  console.error(`[bench] logs of the origin and the workers: ${tmp}`);
  process.exit(1);
}, CONFIG.timeLimit * 1000);

// ---- the processes ---------------------------------------------------------------------


async function startOrigin() {
  const logFile = join(tmp, 'origin.log');
  const child = spawn(process.execPath, [join(ROOT, 'demo/origin.mjs')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', DEMO_ORIGIN_RECORD: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => child.kill('SIGTERM'));
  let out = '';
  child.stderr.on('data', (d) => { out += d; });
  const base = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`demo origin did not start:\n${out}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /demo origin listening on (http:\/\/127\.0\.0\.1:\d+)\/mcp/.exec(out);
      if (m) { clearTimeout(timer); res(m[1]); }
    });
    child.once('exit', (code) => rej(new Error(`demo origin exited (${code}):\n${out}`)));
  });
  child.stdout.on('data', () => {}); // keep draining
  cleanups.push(() => writeFileSync(logFile, out));
  return { base, mcpUrl: `${base}/mcp`, pid: child.pid };
}

/**
 * Starts one Miniflare instance (its own workerd) on `port`; returns { mf, url, pid }.
 * The port is chosen by the caller because a worker's config may need to name its own URL.
 */
async function startMiniflare(name, port, options, { inspectorPort, sameStorage = false } = {}) {
  const before = new Set(childPids(process.pid, 'workerd'));
  // The worker's console output (Gatehouse logs one line per request) arrives here as
  // structured logs: count it, keep errors and warnings for the log file, print nothing.
  const logs = { lines: 0, kept: [] };
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: '127.0.0.1',
    port,
    cf: false, // placeholder request.cf: no network
    logRequests: false, // Miniflare's per-request log line would cost CPU here, in Node
    handleStructuredLogs: (l) => {
      logs.lines++;
      if (l.level !== 'log' && l.level !== 'info' && l.level !== 'debug' && logs.kept.length < 200) logs.kept.push(`${l.level}: ${l.message}`);
    },
    ...(sameStorage ? withSameStorage(options) : options),
    ...(inspectorPort ? { inspectorPort } : {}),
  }));
  cleanups.push(() => mf.dispose());
  cleanups.push(() => writeFileSync(join(tmp, `${name}.log`), `${logs.lines} log lines; errors and warnings:\n${logs.kept.join('\n')}\n`));
  const url = String(await mf.ready).replace(/\/$/, '');
  if (url !== `http://127.0.0.1:${port}`) throw new Error(`workerd listens on ${url}, expected port ${port}`);
  const started = childPids(process.pid, 'workerd').filter((p) => !before.has(p));
  if (started.length !== 1) throw new Error(`expected one new workerd process, found ${started.length}`);
  return { mf, url, pid: started[0], logs, inspectorPort };
}

/**
 * Cold starts only: every worker gets one D1 database and one KV namespace (its own, else an
 * unused one), so that Miniflare sets up the same storage for each and the cold starts differ
 * by the scripts alone. (With Gatehouse on D1, the baseline on KV and the passthrough on
 * nothing, Miniflare's set-up differed by more than the workers did.)
 */
function withSameStorage(options) {
  return {
    ...options,
    d1Databases: options.d1Databases ?? { COLD_D1: 'cold-d1' },
    kvNamespaces: options.kvNamespaces ?? ['COLD_KV'],
  };
}

async function wranglerConfig() {
  const { experimental_readRawConfig } = await import('wrangler');
  const { rawConfig } = experimental_readRawConfig({ config: join(ROOT, 'wrangler.toml') });
  return rawConfig;
}

/** The modules of build/: JavaScript as ES modules, .wasm as compiled WebAssembly; `entry` first. */
function buildModules(dir, entry) {
  const files = readdirSync(dir, { recursive: true }).map((f) => join(dir, f)).filter((f) => /\.(m?js|wasm)$/.test(f));
  const rest = files.filter((f) => f !== entry).sort();
  return [entry, ...rest].map((path) => ({ type: path.endsWith('.wasm') ? 'CompiledWasm' : 'ESModule', path }));
}

async function startGatehouse(config, origin, secrets, { buildDir = join(ROOT, 'build'), name = 'gatehouse', inspect = false, migrate = true, sameStorage = false } = {}) {
  const shim = join(buildDir, 'worker/shim.mjs');
  try {
    statSync(shim);
  } catch {
    throw new Error(`${shim} missing: run bash scripts/build.sh (npm run bench does)`);
  }
  const db = (config.d1_databases ?? []).find((d) => d.binding === 'DB');
  if (!db) throw new Error('wrangler.toml has no D1 binding named DB');
  const gh = await startMiniflare(name, await freePort(), {
    // What wrangler would upload: the shim first (the entry), then every module it reaches.
    modules: buildModules(buildDir, shim),
    modulesRoot: buildDir,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    d1Databases: { DB: db.preview_database_id ?? db.database_id },
    bindings: { ...(config.vars ?? {}), ...secrets, ORIGIN_URL: origin.mcpUrl },
  }, { inspectorPort: inspect ? await freePort() : undefined, sameStorage });
  if (!migrate) return gh;
  // The migrations, through the binding, into this run's fresh (in-memory) D1.
  const d1 = await gh.mf.getD1Database('DB');
  const dir = resolve(ROOT, db.migrations_dir ?? 'migrations');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const statements = splitSql(readFileSync(join(dir, file), 'utf8'));
    if (statements.length) await d1.batch(statements.map((s) => d1.prepare(s)));
  }
  return gh;
}

async function buildBaseline() {
  const outfile = join(tmp, 'baseline.mjs');
  await build({
    entryPoints: [join(ROOT, 'bench/baseline/worker.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    logLevel: 'warning',
  });
  return outfile;
}

/** The no-auth passthrough worker (bench/reference/passthrough.js): the runner's own floor. */
function startPassthrough(config, origin, { sameStorage = false } = {}) {
  return freePort().then((port) => startMiniflare('passthrough', port, {
    modules: true,
    scriptPath: join(ROOT, 'bench/reference/passthrough.js'),
    compatibilityDate: config.compatibility_date,
    bindings: { ORIGIN_URL: origin.mcpUrl },
  }, { sameStorage }));
}

const RUST_FLOOR = join(ROOT, 'bench/.tmp/rust-floor');
/** The floor with Gatehouse's origin timeout (`--features deadline`), also built by scripts/bench.sh. */
const RUST_FLOOR_DEADLINE = join(ROOT, 'bench/.tmp/rust-floor-deadline');
/** The floor sending five headers of the sizes of Gatehouse's identity headers (`--features identity`). */
const RUST_FLOOR_IDENTITY = join(ROOT, 'bench/.tmp/rust-floor-identity');
/**
 * Both (`--features deadline,identity`): the floor doing for the origin what every forward of
 * Gatehouse's must (bound the wait, say who calls), with none of the checks. The full run's
 * second reference for targets 1 and 2.
 */
const RUST_FLOOR_REQUIRED = join(ROOT, 'bench/.tmp/rust-floor-required');

/**
 * The Rust floor (bench/reference/rust-floor): no token → 401, any token → forwarded unchecked.
 * Same compatibility date and flags as Gatehouse, so the two differ by their code alone.
 */
async function startRustFloor(config, origin, { sameStorage = false, dir = RUST_FLOOR } = {}) {
  const shim = join(dir, 'worker/shim.mjs');
  try {
    statSync(shim);
  } catch {
    throw new Error(`${shim} missing: scripts/bench.sh builds it (npm run bench)`);
  }
  return startMiniflare(basename(dir), await freePort(), {
    modules: buildModules(dir, shim),
    modulesRoot: dir,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: { ORIGIN_URL: origin.mcpUrl },
  }, { sameStorage });
}

async function startBaseline(config, origin, bundle, password, { sameStorage = false } = {}) {
  const port = await freePort();
  return startMiniflare('baseline', port, {
    modules: true,
    scriptPath: bundle,
    compatibilityDate: config.compatibility_date,
    kvNamespaces: ['OAUTH_KV'],
    // The library needs its issuer and resource at construction: the URL this worker gets.
    bindings: { PUBLIC_URL: `http://127.0.0.1:${port}`, ORIGIN_URL: origin.mcpUrl, OWNER_PASSWORD: password },
  }, { sameStorage });
}

/**
 * The workers of a new-isolate cold start (bench/lib/isolates.mjs), with the settings their own
 * workerd gets above. The baseline has no KV binding there (the loader cannot pass one on): its
 * no-token 401 does not read KV. `extra`: more Gatehouse builds, key -> build directory.
 * `wasmOnly`: also the passthrough carrying a wasm module it never uses (bench/reference/wasm_only.js).
 */
function isolateWorkers(config, origin, secrets, password, bundle, { rustFloor = true, extra = {}, wasmOnly = false } = {}) {
  const flags = config.compatibility_flags ?? [];
  const gatehouseEnv = { ...(config.vars ?? {}), ...secrets, ORIGIN_URL: origin.mcpUrl };
  const workers = { gatehouse: builtWorker(join(ROOT, 'build'), { compatibilityFlags: flags, env: gatehouseEnv }) };
  for (const [key, dir] of Object.entries(extra)) workers[key] = builtWorker(dir, { compatibilityFlags: flags, env: gatehouseEnv });
  workers.baseline = scriptWorker(bundle, { env: { PUBLIC_URL: 'http://127.0.0.1', ORIGIN_URL: origin.mcpUrl, OWNER_PASSWORD: password } });
  workers.passthrough = scriptWorker(join(ROOT, 'bench/reference/passthrough.js'), { env: { ORIGIN_URL: origin.mcpUrl } });
  if (rustFloor) workers.rustfloor = builtWorker(RUST_FLOOR, { compatibilityFlags: flags, env: { ORIGIN_URL: origin.mcpUrl } });
  if (wasmOnly) {
    // The passthrough carrying Gatehouse's (the floor's) wasm, which workerd compiles at script
    // load and nothing instantiates (wasm_only.js), or with the build's index.js loaded too, so
    // the wasm is instantiated but none of its code answers (instantiate_only.js): what the
    // module's size, then its instantiation, cost a new isolate apart from running its code.
    const passthroughWith = (main, dir, { glue }) => ({
      mainModule: 'main.js',
      compatibilityFlags: glue ? flags : [],
      env: { ORIGIN_URL: origin.mcpUrl },
      files: {
        'main.js': { js: join(ROOT, 'bench/reference', main) },
        'passthrough.js': { js: join(ROOT, 'bench/reference/passthrough.js') },
        ...(glue ? { 'index.js': { js: join(dir, 'index.js') } } : {}),
        'index_bg.wasm': { wasm: join(dir, 'index_bg.wasm') },
      },
    });
    const dirs = { gatehouse: join(ROOT, 'build'), ...(rustFloor ? { rustfloor: RUST_FLOOR } : {}) };
    for (const [key, dir] of Object.entries(dirs)) workers[`${key}WasmOnly`] = passthroughWith('wasm_only.js', dir, { glue: false });
    for (const [key, dir] of Object.entries(dirs)) workers[`${key}Instantiated`] = passthroughWith('instantiate_only.js', dir, { glue: true });
  }
  return workers;
}

/** New isolates of `workers`, each answering a first MCP POST without a token. */
function newIsolates(config, workers) {
  return coldIsolates(workers, {
    samples: CONFIG.isolateSamples,
    compatibilityDate: config.compatibility_date,
    body: JSON.stringify(initializeBody()),
    // The passthrough forwards without a token (the origin answers); the others refuse.
    accept: (key, status) => (key === 'passthrough' || key.endsWith('WasmOnly') || key.endsWith('Instantiated') ? status < 500 : status === 401),
    log,
  });
}

// ---- MCP over HTTP -----------------------------------------------------------------------

/** The JSON-RPC messages of a response that is JSON or an SSE stream. */
function rpcMessages(res) {
  if (res.json) return [res.json];
  return res.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
}

/** Opens an MCP session at `url` (initialize + initialized); returns the request headers to use. */
async function openSession(name, url, token) {
  const auth = token ? { authorization: `Bearer ${token}` } : {};
  const init = await mcpPost(url, initializeBody(1), auth);
  const sid = init.headers.get('mcp-session-id');
  if (init.status !== 200 || !sid) throw new Error(`${name}: initialize failed: ${init.status} ${init.text.slice(0, 300)}`);
  const protocolVersion = rpcMessages(init)[0]?.result?.protocolVersion;
  const headers = {
    ...auth,
    ...NO_TOKEN,
    'mcp-session-id': sid,
    ...(protocolVersion ? { 'mcp-protocol-version': protocolVersion } : {}),
  };
  const note = await mcpPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  if (note.status !== 202) throw new Error(`${name}: notifications/initialized answered ${note.status}`);
  return headers;
}

/**
 * The token with one character of its signature (Gatehouse: the JWT's last part, 86 characters)
 * or secret (baseline: `user:grant:secret`, 32) changed: well-formed, but not issued by the
 * gateway. Not the last character, whose low bits base64url does not use.
 */
function forge(token) {
  const i = token.length - 10;
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

function toolCall(name, args, id = '[<id>]') {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

/** One echo and one whoami through `url`: the path works and the origin never sees the token. */
async function checkPath(name, url, headers, { gateway }) {
  const echo = rpcMessages(await mcpPost(url, toolCall('echo', { text: ECHO }, 2), headers));
  if (echo[0]?.result?.content?.[0]?.text !== ECHO) throw new Error(`${name}: echo did not come back: ${JSON.stringify(echo)}`);
  if (!gateway) return;
  const who = rpcMessages(await mcpPost(url, toolCall('whoami', {}, 3), headers));
  const seen = JSON.parse(who[0]?.result?.content?.[0]?.text ?? 'null');
  if (!seen || seen.authorization || seen.cookie) {
    throw new Error(`${name}: the origin saw the client's credentials: ${JSON.stringify(seen)}`);
  }
}

/**
 * The baseline's login is real: a wrong owner password shows the form again (401) and grants
 * nothing. (Gatehouse's own e2e tests cover its login; repeated failures there are rate limited.)
 */
async function checkBaselineLogin(gw) {
  const reg = await register(gw.url);
  if (reg.status !== 201) throw new Error(`${gw.name}: registration failed: ${reg.status} ${reg.text.slice(0, 300)}`);
  const browser = new Browser(gw.url);
  const page = await browser.request(authorizeUrl(gw.url, {
    response_type: 'code',
    client_id: reg.json.client_id,
    redirect_uri: LOOPBACK_REDIRECT,
    state: 'bench',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    resource: `${gw.url}/mcp`,
  }));
  const [form] = parseForms(page.text);
  if (page.status !== 200 || !form) throw new Error(`${gw.name}: /authorize showed no form (${page.status})`);
  const wrong = await browser.request(new URL(form.action, page.url), {
    method: 'POST',
    form: fillForm(form, { password: `${gw.password}-wrong` }),
  });
  if (wrong.status !== 401 || wrong.location || !parseForms(wrong.text).length) {
    throw new Error(`${gw.name}: a wrong password was not refused (${wrong.status}, location ${wrong.location})`);
  }
}

// ---- measurement -----------------------------------------------------------------------------

async function timeFlow(gw) {
  const t0 = performance.now();
  const flow = await manualFlow({ base: gw.url, mcpUrl: `${gw.url}/mcp`, password: gw.password });
  const ms = performance.now() - t0;
  if (flow.token.status !== 200 || !flow.token.json?.access_token) {
    throw new Error(`${gw.name}: token request failed: ${flow.token.status} ${flow.token.text.slice(0, 300)}`);
  }
  return { ms, token: flow.token.json.access_token };
}

function machineInfo() {
  let model = cpus()[0]?.model ?? 'unknown';
  let memKb = Math.round(totalmem() / 1024);
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
    memKb = Number(/MemTotal:\s*(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? memKb);
  } catch {
    /* not Linux: os module values */
  }
  return { cores: cpus().length, model, memGiB: memKb / 1024 / 1024 };
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function sizes(file) {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

/**
 * Cold start: a fresh workerd per sample, hence a new isolate (script load, wasm compile and
 * instantiate, module start-up, Gatehouse's configuration and key set-up on its first request),
 * timed from asking Miniflare to start until the answer to a first MCP POST without a token has
 * arrived. Process start and Miniflare's own set-up are in every sample alike; the passthrough's
 * time is that floor, and a gateway's cold start is what it adds above it.
 * That whole time varies by ±40 ms from sample to sample with workerd's and Miniflare's
 * start-up, more than the scripts differ; so each sample also records the CPU time workerd's
 * threads used from their start to the first answer (`<key>Cpu`, by schedstat), which counts the
 * same work without the waiting, and the first request's time alone (`<key>First`).
 */
async function coldStarts(starters, reps) {
  const out = Object.fromEntries(Object.keys(starters).flatMap((k) => [[k, []], [`${k}First`, []], [`${k}Cpu`, []]]));
  for (let r = 0; r < reps; r++) {
    for (const [key, start] of Object.entries(starters)) {
      const t0 = performance.now();
      const w = await start();
      const ready = performance.now();
      const res = await fetch(`${w.url}/mcp`, { method: 'POST', headers: NO_TOKEN, body: JSON.stringify(initializeBody()) });
      await res.arrayBuffer();
      const ms = performance.now() - t0;
      const first = performance.now() - ready;
      const cpu = threadsCpuMs(w.pid);
      await w.mf.dispose();
      // The passthrough forwards without a token (the origin answers); the others refuse.
      const expected = key === 'passthrough' ? res.status < 500 : res.status === 401;
      if (!expected) throw new Error(`cold start of ${key}: first answer ${res.status}`);
      out[key].push(ms);
      out[`${key}First`].push(first);
      out[`${key}Cpu`].push(cpu);
    }
  }
  return out;
}

/** Pins every thread of `pid` to the CPUs in `list` ("0", "1", "0-1"). */
function pin(pid, list) {
  const r = spawnSync('taskset', ['-a', '-c', '-p', list, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`taskset ${list} ${pid}: ${r.stderr}`);
}

async function main() {
  mkdirSync(tmp, { recursive: true });
  if (FLAGS.quick) return quick();
  const started = new Date();
  log(`config: ${JSON.stringify(CONFIG)}`);

  const config = await wranglerConfig();
  const baselineBundle = await buildBaseline();
  const password = `owner-${randomBytes(12).toString('base64url')}`;
  const secrets = { SIGNING_KEY: randomBytes(32).toString('base64url'), OWNER_PASSWORD: password };

  const origin = await startOrigin();
  log(`demo origin ${origin.mcpUrl} (pid ${origin.pid})`);
  // New isolates first, while no other workerd runs and the origin holds no sessions: in a run
  // where they came after the load runs, every worker's new isolates took 2-5 times as long in
  // some stretches (bench/NOTES.md, session 30).
  log(`new isolates: ${CONFIG.isolateSamples} per worker in one workerd (Worker Loader)`);
  // With the decompositions (the module compiled only; compiled and instantiated): what
  // Gatehouse's module costs a new isolate before any of its code answers, target 5's bound.
  const isolates = await newIsolates(config, isolateWorkers(config, origin, secrets, password, baselineBundle, { wasmOnly: true }));
  const gh = { name: 'Gatehouse', password, ...(await startGatehouse(config, origin, secrets)) };
  log(`Gatehouse ${gh.url} (workerd pid ${gh.pid})`);
  const base = { name: 'Baseline', password, ...(await startBaseline(config, origin, baselineBundle, password)) };
  log(`baseline ${base.url} (workerd pid ${base.pid})`);
  const pass = { name: 'Passthrough', ...(await startPassthrough(config, origin)) };
  log(`passthrough ${pass.url} (workerd pid ${pass.pid})`);
  const floor = { name: 'Rust floor', ...(await startRustFloor(config, origin)) };
  log(`Rust floor ${floor.url} (workerd pid ${floor.pid})`);
  const floorPlus = { name: 'Rust floor + timeout + identity', ...(await startRustFloor(config, origin, { dir: RUST_FLOOR_REQUIRED })) };
  log(`Rust floor + timeout + identity headers ${floorPlus.url} (workerd pid ${floorPlus.pid})`);
  const pids = { origin: origin.pid, gatehouse: gh.pid, baseline: base.pid, passthrough: pass.pid, rustfloor: floor.pid, rustfloorplus: floorPlus.pid };

  await checkBaselineLogin(base);

  // OAuth flows: one unmeasured each (isolate start, wasm compile), then BENCH_FLOWS each,
  // in pairs whose order alternates. A flow is ~30 ms, so many are cheap, and five (one per
  // repetition, as before) left target 3c a tie decided by a millisecond of spread.
  const flows = { Gatehouse: [], Baseline: [] };
  for (const gw of [gh, base]) gw.token = (await timeFlow(gw)).token;
  for (let r = 0; r < CONFIG.flows; r++) {
    for (const gw of r % 2 ? [base, gh] : [gh, base]) {
      const { ms, token } = await timeFlow(gw);
      flows[gw.name].push(ms);
      gw.token = token;
    }
  }
  log(`OAuth flows done: Gatehouse ${flows.Gatehouse.map((x) => x.toFixed(0)).join(' ')} ms; baseline ${flows.Baseline.map((x) => x.toFixed(0)).join(' ')} ms`);

  const targets = [
    { key: 'direct', name: 'Direct origin', url: origin.mcpUrl, runtime: 'origin', token: null },
    { key: 'gatehouse', name: 'Gatehouse', url: `${gh.url}/mcp`, runtime: 'gatehouse', token: gh.token },
    { key: 'baseline', name: 'Baseline', url: `${base.url}/mcp`, runtime: 'baseline', token: base.token },
    { key: 'passthrough', name: 'Passthrough', url: `${pass.url}/mcp`, runtime: 'passthrough', token: null },
    // Any bearer token goes through: the floor checks none (it only needs one to forward).
    { key: 'rustfloor', name: 'Rust floor', url: `${floor.url}/mcp`, runtime: 'rustfloor', token: 'unchecked' },
    { key: 'rustfloorplus', name: 'Rust floor + timeout + identity', url: `${floorPlus.url}/mcp`, runtime: 'rustfloorplus', token: 'unchecked' },
  ];
  for (const t of targets) {
    t.headers = await openSession(t.name, t.url, t.token);
    await checkPath(t.name, t.url, t.headers, { gateway: t.key === 'gatehouse' || t.key === 'baseline' });
  }
  const callBody = JSON.stringify(toolCall('echo', { text: ECHO }));
  const verify = (body) => body.includes(`"text":"${ECHO}"`) && body.includes('"result"');
  const gateways = targets.filter((t) => t.key === 'gatehouse' || t.key === 'baseline');
  // The Rust floor answers a request without a token with 401 too; a forged one it forwards.
  const refusers = [...gateways, targets.find((t) => t.key === 'rustfloor')];
  // What a load run sends, per kind: the authenticated session; no token; a token whose
  // signature / secret was altered (the gateway must check it and refuse: this isolates the
  // cost of token verification from the cost of forwarding).
  const kinds = [
    { key: 'auth', label: 'tools/call', targets, seconds: CONFIG.seconds, expectStatus: 200, verify, headers: (t) => t.headers },
    { key: '401', label: '401 no token', targets: refusers, seconds: CONFIG.unauthSeconds, expectStatus: 401, headers: () => NO_TOKEN },
    { key: 'forged', label: '401 forged', targets: gateways, seconds: CONFIG.unauthSeconds, expectStatus: 401, headers: (t) => ({ ...NO_TOKEN, authorization: `Bearer ${forge(t.token)}` }) },
  ];
  const common = { connections: CONFIG.connections, pids, body: callBody };
  const run = (kind, t, seconds) => loadRun({
    ...common, url: t.url, headers: kind.headers(t), seconds, expectStatus: kind.expectStatus, verify: kind.verify,
  });

  log(`warm-up: ${CONFIG.warmupSeconds} s per path`);
  for (const kind of kinds) for (const t of kind.targets) await run(kind, t, CONFIG.warmupSeconds);

  const runs = [];
  for (let rep = 1; rep <= CONFIG.reps; rep++) {
    for (const kind of kinds) {
      for (const t of kind.targets) {
        const r = await run(kind, t, kind.seconds);
        runs.push({ kind: kind.key, target: t.key, runtime: t.runtime, rep, ...r });
        log(`rep ${rep} ${t.name.padEnd(13)} ${kind.label.padEnd(12)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  bad ${r.bad}  `
          + `runtime CPU ${(1000 * r.cpu.procs[t.runtime] / r.ok).toFixed(3)} ms/req  other CPU ${(100 * r.cpu.other / r.cpu.capacity).toFixed(0)}%`);
      }
    }
  }

  // Pinned (issue 14, target 2): the worker's workerd on CPU 0, the origin and this process
  // (load generator, Miniflare's Node side) on CPU 1, so the gateway does not compete with them.
  const workers = targets.filter((t) => t.key !== 'direct');
  const pinnedKind = { ...kinds[0], key: 'pinned', label: 'pinned', targets: workers };
  for (const t of workers) pin(pids[t.runtime], '0');
  pin(origin.pid, '1');
  pin(process.pid, '1');
  try {
    for (const t of workers) await run(pinnedKind, t, CONFIG.warmupSeconds);
    for (let rep = 1; rep <= CONFIG.reps; rep++) {
      for (const t of workers) {
        const r = await run(pinnedKind, t, pinnedKind.seconds);
        runs.push({ kind: 'pinned', target: t.key, runtime: t.runtime, rep, ...r });
        log(`rep ${rep} ${t.name.padEnd(13)} pinned       ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  bad ${r.bad}  `
          + `runtime CPU ${(1000 * r.cpu.procs[t.runtime] / r.ok).toFixed(3)} ms/req`);
      }
    }
  } finally {
    for (const pid of [...workers.map((t) => pids[t.runtime]), origin.pid, process.pid]) pin(pid, `0-${cpus().length - 1}`);
  }

  // The session still works after the load (nothing was corrupted on the way).
  for (const t of targets) await checkPath(t.name, t.url, t.headers, { gateway: t.key === 'gatehouse' || t.key === 'baseline' });

  log(`cold starts: ${CONFIG.coldSamples} fresh workerd per worker, each with one D1 and one KV binding`);
  const cold = await coldStarts({
    gatehouse: () => startGatehouse(config, origin, secrets, { name: 'cold-gatehouse', migrate: false, sameStorage: true }),
    baseline: () => startBaseline(config, origin, baselineBundle, password, { sameStorage: true }),
    passthrough: () => startPassthrough(config, origin, { sameStorage: true }),
    rustfloor: () => startRustFloor(config, origin, { sameStorage: true }),
  }, CONFIG.coldSamples);
  log(`cold starts (ms): ${Object.entries(cold).map(([k, xs]) => `${k} ${xs.map((x) => x.toFixed(0)).join(' ')}`).join('; ')}`);

  log('round trips: the fault build (build-faults/), an MCP client\'s first connection');
  const trips = await measureRoundTrips(config, origin, secrets, password);
  log(`round trips: ${trips.map((r) => `${r.request} ${r.trips}`).join('; ')}`);

  const wasmFile = readdirSync(join(ROOT, 'build')).find((f) => f.endsWith('.wasm'));
  const gitRev = await new Promise((res) => {
    const c = spawn('git', ['describe', '--always', '--dirty'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
    let o = '';
    c.stdout.on('data', (d) => { o += d; });
    c.once('exit', () => res(o.trim() || 'unknown'));
    c.once('error', () => res('unknown'));
  });

  const report = writeResults({
    file: join(ROOT, 'bench/RESULTS.md'),
    config: CONFIG,
    started,
    finished: new Date(),
    machine: machineInfo(),
    versions: {
      node: process.versions.node,
      miniflare: pkgVersion('miniflare'),
      workerd: pkgVersion('workerd'),
      wrangler: pkgVersion('wrangler'),
      autocannon: pkgVersion('autocannon'),
      oauthProvider: pkgVersion('@cloudflare/workers-oauth-provider'),
      gatehouse: gitRev,
      clockTicks: clockTicks(),
    },
    runs,
    flows,
    cold,
    isolates,
    trips,
    wasm: wasmFile ? { file: `build/${wasmFile}`, ...sizes(join(ROOT, 'build', wasmFile)) } : null,
    floorWasm: sizes(join(RUST_FLOOR, 'index_bg.wasm')),
    baselineBundle: sizes(baselineBundle),
  });
  console.log(`\n${report}`);
  log(`wrote bench/RESULTS.md`);
  const bad = runs.filter((r) => r.bad > 0);
  if (bad.length) {
    // Numbers from a gateway that answered wrongly are not results.
    console.error(`[bench] ERROR: ${bad.length} load runs had failed or wrong responses (${bad.map((r) => `${r.target} ${r.kind}: ${r.bad}`).join(', ')})`);
    process.exitCode = 1;
  }
}

/**
 * `--quick` (with `--ab`, `--profile`): the authenticated path of Gatehouse (and of a second
 * build) beside the passthrough floor, for measuring one change at a time. Prints, writes nothing
 * but the profile.
 */
async function quick() {
  log(`quick mode: ${JSON.stringify({ ...CONFIG, ab: FLAGS.ab, profile: FLAGS.profile })}`);
  const config = await wranglerConfig();
  const password = `owner-${randomBytes(12).toString('base64url')}`;
  const secrets = { SIGNING_KEY: randomBytes(32).toString('base64url'), OWNER_PASSWORD: password };
  const origin = await startOrigin();
  if (FLAGS.path === 'cold') return quickCold(config, origin, secrets, password);
  if (FLAGS.path === 'flow') return quickFlow(config, origin, secrets, password);
  if (FLAGS.path === 'calls') return quickCalls(config, origin, secrets, password);
  if (FLAGS.path === 'trips') {
    const rows = await measureRoundTrips(config, origin, secrets, password);
    console.log('\nsequential D1 round trips per request (the fault build\'s counter)\n');
    for (const r of rows) console.log(`${String(r.trips).padStart(3)}  ${r.request}`);
    return;
  }
  const pids = { origin: origin.pid };
  const targets = [];
  const gateways = [{ key: 'gatehouse', name: 'Gatehouse', opts: { inspect: FLAGS.profile } }];
  if (FLAGS.ab) gateways.push({ key: 'gatehouseB', name: `Gatehouse B (${FLAGS.ab})`, opts: { buildDir: FLAGS.ab, name: 'gatehouseB' } });
  FLAGS.ladder.forEach((dir, i) => gateways.push({ key: `gatehouseL${i + 1}`, name: `Gatehouse L${i + 1} (${dir})`, opts: { buildDir: dir, name: `gatehouseL${i + 1}` } }));
  for (const g of gateways) {
    const gw = { name: g.name, password, ...(await startGatehouse(config, origin, secrets, g.opts)) };
    await timeFlow(gw); // isolate start and wasm compile, unmeasured
    const { token } = await timeFlow(gw);
    pids[g.key] = gw.pid;
    targets.push({ key: g.key, name: g.name, url: `${gw.url}/mcp`, token, gw });
  }
  // The floor: the passthrough for `tools/call`; for the 401, which it has no path for, the peer.
  const unauth = FLAGS.path === '401';
  const floorKey = unauth ? 'baseline' : 'passthrough';
  if (unauth) {
    const base = await startBaseline(config, origin, await buildBaseline(), password);
    pids.baseline = base.pid;
    targets.push({ key: 'baseline', name: 'Baseline', url: `${base.url}/mcp`, token: null });
  } else {
    const pass = await startPassthrough(config, origin);
    pids.passthrough = pass.pid;
    targets.push({ key: 'passthrough', name: 'Passthrough', url: `${pass.url}/mcp`, token: null });
  }
  if (FLAGS.rustFloor) {
    const floor = await startRustFloor(config, origin);
    pids.rustfloor = floor.pid;
    targets.push({ key: 'rustfloor', name: 'Rust floor', url: `${floor.url}/mcp`, token: 'unchecked' });
    if (!unauth) {
      const timed = await startRustFloor(config, origin, { dir: RUST_FLOOR_DEADLINE });
      pids.rustfloorDeadline = timed.pid;
      targets.push({ key: 'rustfloorDeadline', name: 'Rust floor + origin timeout', url: `${timed.url}/mcp`, token: 'unchecked' });
      const named = await startRustFloor(config, origin, { dir: RUST_FLOOR_IDENTITY });
      pids.rustfloorIdentity = named.pid;
      targets.push({ key: 'rustfloorIdentity', name: 'Rust floor + identity headers', url: `${named.url}/mcp`, token: 'unchecked' });
    }
  }
  for (const t of targets) {
    if (unauth) {
      t.headers = NO_TOKEN;
      continue;
    }
    t.headers = await openSession(t.name, t.url, t.token);
    await checkPath(t.name, t.url, t.headers, { gateway: t.key.startsWith('gatehouse') });
  }
  const body = JSON.stringify(toolCall('echo', { text: ECHO }));
  const verify = unauth ? undefined : (b) => b.includes(`"text":"${ECHO}"`) && b.includes('"result"');
  const run = (t, seconds) => loadRun({ url: t.url, headers: t.headers, body, connections: CONFIG.connections, seconds, expectStatus: unauth ? 401 : 200, verify, pids });
  for (const t of targets) await run(t, CONFIG.warmupSeconds);
  const runs = [];
  for (let rep = 1; rep <= CONFIG.reps; rep++) {
    // The two builds swap places every repetition (A B, B A, ...): the run after the
    // passthrough's tends to differ, and that must not count for one build only.
    let order = rep % 2 === 0 && FLAGS.ab ? [targets[1], targets[0], ...targets.slice(2)] : [...targets];
    if (FLAGS.ladder.length) {
      // Every build takes every place in turn.
      const builds = targets.slice(0, gateways.length);
      const k = (rep - 1) % builds.length;
      order = [...builds.slice(k), ...builds.slice(0, k), ...targets.slice(gateways.length)];
    }
    // The floors likewise, in turn.
    const floors = order.filter((t) => t.key.startsWith('rustfloor'));
    if (floors.length > 1) {
      const k = (rep - 1) % floors.length;
      order = [...order.filter((t) => !t.key.startsWith('rustfloor')), ...floors.slice(k), ...floors.slice(0, k)];
    }
    for (const t of order) {
      const r = await run(t, CONFIG.seconds);
      const cpu = (1000 * r.cpu.procs[t.key]) / r.ok;
      runs.push({ target: t.key, rps: r.rps, cpu, bad: r.bad, other: r.cpu.other / r.cpu.capacity });
      log(`rep ${rep} ${t.key.padEnd(11)} ${r.rps.toFixed(0).padStart(6)} req/s  workerd ${cpu.toFixed(3)} ms/req  `
        + `origin ${((1000 * r.cpu.procs.origin) / r.ok).toFixed(3)} ms/req  bad ${r.bad}  other CPU ${(100 * r.cpu.other / r.cpu.capacity).toFixed(0)}%`);
    }
  }
  const floor = med(runs.filter((r) => r.target === floorKey).map((r) => r.cpu));
  console.log(`\n${unauth ? '401 without a token' : 'tools/call'}\n`);
  console.log(`| Path | req/s (median) | workerd CPU ms/req (median, min–max) | above the ${unauth ? 'baseline' : 'passthrough floor'} |`);
  console.log('|---|---|---|---|');
  for (const t of targets) {
    const mine = runs.filter((r) => r.target === t.key);
    const c = mine.map((r) => r.cpu);
    console.log(`| ${t.name} | ${med(mine.map((r) => r.rps)).toFixed(0)} | ${med(c).toFixed(3)} (${Math.min(...c).toFixed(3)}–${Math.max(...c).toFixed(3)}) | ${t.key === floorKey ? '—' : (med(c) - floor).toFixed(3)} |`);
  }
  if (FLAGS.ab) {
    // Per repetition, the two builds ran back to back: their difference is less noisy than each.
    const d = runs.filter((r) => r.target === 'gatehouseB').map((b, i) => b.cpu - runs.filter((r) => r.target === 'gatehouse')[i].cpu);
    console.log(`\nB − A, workerd CPU ms/req per repetition: ${d.map((x) => x.toFixed(3)).join(' ')} (median ${med(d).toFixed(3)})`);
  }
  if (FLAGS.ladder.length) {
    // Each build against Gatehouse and against the build before it, repetition by repetition.
    const of = (k) => runs.filter((r) => r.target === k).map((r) => r.cpu);
    const keys = gateways.map((g) => g.key);
    console.log('\n| Build | − Gatehouse, median (per repetition) | − the build before, median (per repetition) |');
    console.log('|---|---|---|');
    for (let i = 1; i < keys.length; i++) {
      const d0 = of(keys[i]).map((x, j) => x - of(keys[0])[j]);
      const d1 = of(keys[i]).map((x, j) => x - of(keys[i - 1])[j]);
      const fmt = (d) => `${med(d).toFixed(3)} (${d.map((x) => x.toFixed(3)).join(' ')})`;
      console.log(`| ${gateways[i].name} | ${fmt(d0)} | ${fmt(d1)} |`);
    }
  }
  if (targets.some((t) => t.key === 'rustfloorDeadline')) {
    // The floors ran back to back in each repetition: what the origin timeout and the identity
    // headers each cost alone.
    const of = (k) => runs.filter((r) => r.target === k).map((r) => r.cpu);
    const d = of('rustfloorDeadline').map((x, i) => x - of('rustfloor')[i]);
    console.log(`\nRust floor + origin timeout − Rust floor, workerd CPU ms/req per repetition: ${d.map((x) => x.toFixed(3)).join(' ')} (median ${med(d).toFixed(3)})`);
    const e = of('rustfloorIdentity').map((x, i) => x - of('rustfloor')[i]);
    console.log(`Rust floor + identity headers − Rust floor, workerd CPU ms/req per repetition: ${e.map((x) => x.toFixed(3)).join(' ')} (median ${med(e).toFixed(3)})`);
  }
  if (FLAGS.profile) {
    const dir = join(ROOT, 'bench/.profiles');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `gatehouse-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    const gh = targets[0];
    const { result, summary } = await profileDuring(gh.gw.inspectorPort, file, () => run(gh, CONFIG.seconds));
    log(`profiled run: ${result.ok} responses, ${result.bad} bad; profile in ${file}`);
    console.log(summary);
  }
  const bad = runs.filter((r) => r.bad > 0);
  if (bad.length) {
    console.error(`[bench] ERROR: ${bad.length} load runs had failed or wrong responses`);
    process.exitCode = 1;
  }
}

/** The new-isolate table of `--quick --path=cold`: medians, and per sample above the passthrough. */
function printIsolates(iso) {
  const pt = iso.passthrough;
  const spread = (xs) => `${med(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}…${Math.max(...xs).toFixed(1)})`;
  console.log(`\nnew isolates in one workerd, ${CONFIG.isolateSamples} samples per worker (ms, medians; above the passthrough: median (min…max) of the per-sample differences)\n`);
  console.log('| Worker | first answer of a new isolate | its CPU | a second request, same isolate | above the passthrough | CPU above the passthrough |');
  console.log('|---|---|---|---|---|---|');
  for (const [k, r] of Object.entries(iso)) {
    const above = k === 'passthrough' ? '—' : spread(r.cold.map((x, i) => x - pt.cold[i]));
    const aboveCpu = k === 'passthrough' ? '—' : spread(r.coldCpu.map((x, i) => x - pt.coldCpu[i]));
    console.log(`| ${k} | ${med(r.cold).toFixed(1)} | ${med(r.coldCpu).toFixed(1)} | ${med(r.warm).toFixed(1)} | ${above} | ${aboveCpu} |`);
  }
  if (iso.gatehouseB) {
    const d = iso.gatehouseB.cold.map((b, i) => b - iso.gatehouse.cold[i]);
    const dc = iso.gatehouseB.coldCpu.map((b, i) => b - iso.gatehouse.coldCpu[i]);
    console.log(`\nB − A per sample, new isolate: wall ${spread(d)}, CPU ${spread(dc)}; B faster in ${d.filter((x) => x < 0).length} of ${d.length}`);
  }
}

/**
 * `--quick --path=cold`: the cold starts alone, as the full run measures them, for Gatehouse and a
 * second build beside the passthrough, the baseline (and the Rust floor): new isolates in one
 * workerd (`newIsolates`, with the wasm-only and instantiate-only decompositions), then fresh
 * workerd processes (`coldStarts`), whose first request is the steadier of their figures.
 */
async function quickCold(config, origin, secrets, password) {
  const starters = { gatehouse: () => startGatehouse(config, origin, secrets, { name: 'cold-gatehouse', migrate: false, sameStorage: true }) };
  if (FLAGS.ab) starters.gatehouseB = () => startGatehouse(config, origin, secrets, { buildDir: FLAGS.ab, name: 'cold-gatehouseB', migrate: false, sameStorage: true });
  const bundle = await buildBaseline();
  const isolates = await newIsolates(config, isolateWorkers(config, origin, secrets, password, bundle, {
    rustFloor: FLAGS.rustFloor,
    extra: FLAGS.ab ? { gatehouseB: FLAGS.ab } : {},
    wasmOnly: true,
  }));
  printIsolates(isolates);
  starters.baseline = () => startBaseline(config, origin, bundle, password, { sameStorage: true });
  starters.passthrough = () => startPassthrough(config, origin, { sameStorage: true });
  if (FLAGS.rustFloor) starters.rustfloor = () => startRustFloor(config, origin, { sameStorage: true });
  const cold = await coldStarts(starters, CONFIG.coldSamples);
  const first = med(cold.passthroughFirst);
  console.log(`\ncold starts, ${CONFIG.coldSamples} samples per worker (ms, medians; min–max of the first request)\n`);
  console.log('| Worker | first request | above the passthrough | whole start | workerd CPU to the first answer |');
  console.log('|---|---|---|---|---|');
  for (const k of Object.keys(starters)) {
    const f = cold[`${k}First`];
    console.log(`| ${k} | ${med(f).toFixed(1)} (${Math.min(...f).toFixed(1)}–${Math.max(...f).toFixed(1)}) | ${k === 'passthrough' ? '—' : (med(f) - first).toFixed(1)} | ${med(cold[k]).toFixed(0)} | ${med(cold[`${k}Cpu`]).toFixed(0)} |`);
  }
  if (FLAGS.ab) {
    // Sample by sample the two builds started back to back: their difference is the steadier figure.
    const d = cold.gatehouseBFirst.map((b, i) => b - cold.gatehouseFirst[i]);
    console.log(`\nB − A, first request ms per sample: ${d.map((x) => x.toFixed(1)).join(' ')} (median ${med(d).toFixed(1)})`);
  }
  if (FLAGS.profile) {
    // One more fresh Gatehouse with the profiler on before its first request, sampling every
    // 20 µs: where that request's time goes (first calls compile their wasm functions).
    const dir = join(ROOT, 'bench/.profiles');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `gatehouse-cold-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    const w = await startGatehouse(config, origin, secrets, { name: 'cold-gatehouse-profiled', migrate: false, sameStorage: true, inspect: true });
      const { result, summary } = await profileDuring(w.inspectorPort, file, async () => {
      const res = await fetch(`${w.url}/mcp`, { method: 'POST', headers: NO_TOKEN, body: JSON.stringify(initializeBody()) });
      await res.arrayBuffer();
      return res.status;
    }, 40, 20);
    await w.mf.dispose();
    log(`profiled first request: ${result}; profile in ${file}`);
    console.log(summary);
  }
}

/**
 * Target 4: the sequential D1 round trips of each request of an MCP client's first connection,
 * counted by Gatehouse's fault build (bench/lib/round_trips.mjs) in a workerd of its own.
 */
async function measureRoundTrips(config, origin, secrets, password) {
  const gh = await startGatehouse(config, origin, secrets, { buildDir: join(ROOT, 'build-faults'), name: 'gatehouse-faults' });
  try {
    return await roundTrips({ base: gh.url, mcpUrl: `${gh.url}/mcp`, password });
  } finally {
    await gh.mf.dispose();
  }
}

/**
 * `--quick --path=calls`: counting copies (bench/lib/calls.mjs) of Gatehouse's build, of the Rust
 * floor and of the floor with the origin timeout and the identity headers, each given `tools/call`
 * load until a full window is counted, then the no-token 401 likewise; prints the calls into
 * JavaScript per request side by side.
 */
async function quickCalls(config, origin, secrets, password) {
  const dirs = { gatehouse: join(tmp, 'calls-gatehouse'), required: join(tmp, 'calls-rust-floor-required'), floor: join(tmp, 'calls-rust-floor') };
  countingCopy(join(ROOT, 'build'), dirs.gatehouse);
  countingCopy(RUST_FLOOR_REQUIRED, dirs.required);
  countingCopy(RUST_FLOOR, dirs.floor);
  const gw = { name: 'Gatehouse', password, ...(await startGatehouse(config, origin, secrets, { buildDir: dirs.gatehouse, name: 'calls-gatehouse' })) };
  await timeFlow(gw);
  const { token } = await timeFlow(gw);
  const workers = [
    { name: 'Gatehouse', token, w: gw },
    { name: 'Rust floor + origin timeout + identity headers', token: 'unchecked', w: await startRustFloor(config, origin, { dir: dirs.required }) },
    { name: 'Rust floor', token: 'unchecked', w: await startRustFloor(config, origin, { dir: dirs.floor }) },
  ];
  const body = JSON.stringify(toolCall('echo', { text: ECHO }));
  const verify = (b) => b.includes(`"text":"${ECHO}"`) && b.includes('"result"');
  // Load until the counter has written two more windows: the last one then holds nothing but this load's requests.
  const countUnder = async (t, url, headers, expectStatus, check) => {
    const target = countedWindows(t.w.logs) + 2;
    for (let i = 0; i < 20 && countedWindows(t.w.logs) < target; i++) {
      const r = await loadRun({ url, headers, body, connections: CONFIG.connections, seconds: 2, expectStatus, verify: check, pids: { [t.name]: t.w.pid } });
      if (r.bad) throw new Error(`${t.name}: ${r.bad} wrong answers under load`);
    }
    return { name: t.name, counts: lastCounts(t.name, t.w.logs) };
  };
  const calls = [];
  const refusals = [];
  for (const t of workers) {
    const url = `${t.w.url}/mcp`;
    const headers = await openSession(t.name, url, t.token);
    await checkPath(t.name, url, headers, { gateway: t.name === 'Gatehouse' });
    calls.push(await countUnder(t, url, headers, 200, verify));
    // The no-token 401 (target 3a), the MCP POST as the 401 paths of the full run send it.
    refusals.push(await countUnder(t, url, NO_TOKEN, 401, undefined));
  }
  console.log(`\nCalls from wasm into JavaScript per \`tools/call\` (the last window of ${WINDOW} requests each)\n`);
  console.log(callsTable(calls));
  console.log(`\nCalls from wasm into JavaScript per no-token 401 (the last window of ${WINDOW} requests each)\n`);
  console.log(callsTable(refusals));
}

/**
 * `--quick --path=flow`: OAuth flows alone (BENCH_FLOWS per worker, interleaved), Gatehouse (and a
 * second build) beside the baseline, with each HTTP request of the flow timed where the runner
 * sends it, so a difference in the whole flow can be traced to the endpoint that makes it.
 */
async function quickFlow(config, origin, secrets, password) {
  const workers = [{ key: 'gatehouse', name: 'Gatehouse', password, ...(await startGatehouse(config, origin, secrets)) }];
  if (FLAGS.ab) workers.push({ key: 'gatehouseB', name: 'Gatehouse B', password, ...(await startGatehouse(config, origin, secrets, { buildDir: FLAGS.ab, name: 'gatehouseB' })) });
  workers.push({ key: 'baseline', name: 'Baseline', password, ...(await startBaseline(config, origin, await buildBaseline(), password)) });
  const flows = CONFIG.flows;
  // Every fetch of a flow, by method and path (the runner's side of each round trip).
  const realFetch = globalThis.fetch;
  let steps = null;
  globalThis.fetch = async (input, init) => {
    const t0 = performance.now();
    const res = await realFetch(input, init);
    if (steps) {
      const u = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const k = `${init?.method ?? input?.method ?? 'GET'} ${u.pathname}`;
      steps[k] = (steps[k] ?? 0) + (performance.now() - t0);
    }
    return res;
  };
  const samples = Object.fromEntries(workers.map((w) => [w.key, []]));
  try {
    for (const w of workers) await timeFlow(w); // isolate start and wasm compile, unmeasured
    for (let i = 0; i < flows; i++) {
      const order = i % 2 ? [...workers].reverse() : workers;
      for (const w of order) {
        steps = {};
        const { ms } = await timeFlow(w);
        samples[w.key].push({ ms, steps });
        steps = null;
      }
    }
  } finally {
    globalThis.fetch = realFetch;
  }
  console.log(`\nOAuth flows, ${flows} per worker, interleaved (ms, medians; min–max of the whole flow)\n`);
  const keys = [...new Set(workers.flatMap((w) => samples[w.key].flatMap((s) => Object.keys(s.steps))))];
  console.log(`| Worker | whole flow | ${keys.join(' | ')} |`);
  console.log(`|---|---|${keys.map(() => '---').join('|')}|`);
  for (const w of workers) {
    const s = samples[w.key];
    const whole = s.map((x) => x.ms);
    const cells = keys.map((k) => (s.some((x) => k in x.steps) ? med(s.map((x) => x.steps[k] ?? 0)).toFixed(2) : '—'));
    console.log(`| ${w.name} | ${med(whole).toFixed(1)} (${Math.min(...whole).toFixed(1)}–${Math.max(...whole).toFixed(1)}) | ${cells.join(' | ')} |`);
  }
  if (FLAGS.ab) {
    const d = samples.gatehouseB.map((b, i) => b.ms - samples.gatehouse[i].ms);
    console.log(`\nB − A, whole flow ms per sample: median ${med(d).toFixed(2)} (${d.map((x) => x.toFixed(1)).join(' ')})`);
  }
}

try {
  await main();
  await cleanup();
  clearTimeout(limit);
  if (!process.env.BENCH_KEEP) rmSync(tmp, { recursive: true, force: true });
} catch (err) {
  console.error(`[bench] ERROR: ${err.stack ?? err}`);
  await cleanup();
  console.error(`[bench] logs of the origin and the workers: ${tmp}`);
  process.exit(1);
}
