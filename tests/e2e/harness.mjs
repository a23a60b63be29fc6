// End-to-end harness: the demo MCP origin (demo/origin.mjs) plus the Gatehouse worker in
// workerd (`wrangler dev` with local D1), both on 127.0.0.1 and free ports.
//
// The worker must already be built (`bash scripts/build.sh` -> build/index.js; npm test does
// it): the tests run the fresh build of the source, not the committed dist/. The harness
// snapshots build/ into a temporary directory and runs wrangler from a generated config there,
// derived from wrangler.toml with absolute paths and its main in that snapshot.
// Secrets (SIGNING_KEY, OWNER_PASSWORD) go to wrangler in an --env-file, not on the command
// line. restart() stops and starts the worker on the same port and local D1 state.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freePort } from './ports.mjs';

export { freePort };
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
const START_TIMEOUT_MS = 120_000; // wrangler's first start is slow on 2 cores
const STOP_TIMEOUT_MS = 10_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Like sleep, but does not keep the process alive (for time limits raced against events). */
const timeLimit = (ms, value) => new Promise((r) => setTimeout(r, ms, value).unref());


function tail(file, lines = 60) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Environment for wrangler: unattended, no telemetry, no network lookups. */
function wranglerEnv(dir) {
  return {
    ...process.env,
    CI: 'true',
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_LOG_PATH: join(dir, 'wrangler-logs'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
}

// Children run in their own process groups (so that stopping wrangler also stops its
// workerd); if this process ends abruptly, take them down with it.
const live = new Set();
function killAllNow() {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', killAllNow);
for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.once(sig, () => {
    killAllNow();
    process.exit(128 + n);
  });
}

/** Spawns a process in its own process group with stdin from /dev/null, output to `log`. */
function spawnLogged(cmd, args, { env, cwd, log }) {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', fd, fd], detached: true });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

async function runToEnd(cmd, args, opts, timeoutMs) {
  const child = spawnLogged(cmd, args, opts);
  const exited = new Promise((res) => child.once('exit', (code, sig) => res(code ?? sig)));
  const rc = await Promise.race([exited, timeLimit(timeoutMs, 'timeout')]);
  if (rc === 'timeout') await killGroup(child);
  return rc;
}

/** `hard`: SIGKILL at once, as a crash or an evicted isolate would end it (the soak). */
async function killGroup(child, { hard = false } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal(hard ? 'SIGKILL' : 'SIGTERM');
  if ((await Promise.race([exited.then(() => 'exit'), timeLimit(STOP_TIMEOUT_MS)])) !== 'exit') {
    signal('SIGKILL');
    await Promise.race([exited, timeLimit(STOP_TIMEOUT_MS)]);
  }
}

/** Polls `url` until it answers (any HTTP status) or `deadline` passes. */
async function waitForHttp(url, deadline, isDead) {
  let lastErr;
  while (Date.now() < deadline) {
    if (isDead()) throw new Error('process exited before it was ready');
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await r.arrayBuffer();
      return r.status;
    } catch (e) {
      lastErr = e;
    }
    await sleep(250);
  }
  throw new Error(`no answer from ${url} within the time limit (${lastErr?.cause?.code ?? lastErr?.message})`);
}

/** The MCP origins a harness can start: the demo (SDK 1.x) or the SDK v2 fixture (2026-07-28). */
const ORIGINS = { demo: 'demo/origin.mjs', v2: 'tests/e2e/fixtures/origin-v2.mjs' };

async function startOrigin(dir, port = 0, which = 'demo') {
  const log = join(dir, 'origin.log');
  const from = existsSync(log) ? statSync(log).size : 0; // only look at this run's output
  const child = spawnLogged(process.execPath, [join(ROOT, ORIGINS[which])], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port) },
    log,
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const out = readFileSync(log).subarray(from).toString('utf8');
    const m = /origin listening on (http:\/\/127\.0\.0\.1:\d+)\/mcp/.exec(out);
    if (m) return { child, base: m[1], log };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  await killGroup(child);
  throw new Error(`${which} origin did not start. ${log}:\n${tail(log)}`);
}

/**
 * Configs for extra workers served by the same `wrangler dev` (`-c main -c extra…`), so the
 * main worker can reach them through service bindings. Each: { name, main (absolute), vars }.
 */
function writeWorkerConfigs(dir, workers, compatibilityDate) {
  return workers.map(({ name, main, vars = {} }) => {
    const path = join(dir, `worker-${name}.json`);
    writeFileSync(path, JSON.stringify({ name, main, compatibility_date: compatibilityDate, vars }, null, 2));
    return path;
  });
}

/** A wrangler config for the tests: wrangler.toml with absolute paths, running the snapshot of build/. */
async function writeTestConfig(dir, buildDir, services = []) {
  const { experimental_readRawConfig } = await import('wrangler');
  const { rawConfig } = experimental_readRawConfig({ config: join(ROOT, 'wrangler.toml') });
  const config = structuredClone(rawConfig);
  delete config.build;
  // Deploy settings (npm run deploy / rotate-key) are not for local tests.
  if (config.vars) for (const v of ['PUBLIC_URL', 'SIGNING_KEYS']) delete config.vars[v];
  delete config.routes;
  // wrangler.toml's main is the committed build (dist/index.js); the tests run the fresh build
  // of the source with the same layout (build/index.js), copied: a rebuild during the tests
  // cannot change it.
  const mainInBuild = relative(join(ROOT, 'dist'), resolve(ROOT, config.main ?? 'dist/index.js'));
  if (mainInBuild.startsWith('..')) throw new Error(`wrangler.toml main (${config.main}) is not under dist/`);
  config.main = join(dir, 'build', mainInBuild);
  config.d1_databases = (config.d1_databases ?? []).map((db) => ({
    ...db,
    migrations_dir: resolve(ROOT, db.migrations_dir ?? 'migrations'),
  }));
  if (services.length) config.services = [...(config.services ?? []), ...services];
  if (!existsSync(join(buildDir, mainInBuild))) {
    throw new Error(`the worker is not built (${buildDir}/${mainInBuild} missing): run bash scripts/build.sh`);
  }
  cpSync(buildDir, join(dir, 'build'), { recursive: true });
  const path = join(dir, 'wrangler.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return { path, compatibilityDate: config.compatibility_date };
}

/**
 * Extra worker configs served by the same `wrangler dev` (`-c main -c extra…`), e.g. a fixture
 * worker that the main one reaches through a service binding. Each is copied with its `main` made
 * absolute and the var GATEHOUSE_E2E_ORIGIN_URL (the demo origin's MCP URL) added.
 */
async function writeExtraConfigs(dir, paths, originMcpUrl) {
  const { experimental_readRawConfig } = await import('wrangler');
  return paths.map((p, i) => {
    const file = resolve(ROOT, p);
    const { rawConfig } = experimental_readRawConfig({ config: file });
    const config = structuredClone(rawConfig);
    delete config.build;
    config.main = resolve(dirname(file), config.main);
    config.vars = { ...(config.vars ?? {}), GATEHOUSE_E2E_ORIGIN_URL: originMcpUrl };
    const out = join(dir, `extra-${i}.json`);
    writeFileSync(out, JSON.stringify(config, null, 2));
    return out;
  });
}

/**
 * Starts the demo origin and the worker. Options:
 *   vars: extra worker vars (e.g. shorter lifetimes); `h.vars` may be changed before `h.restart()`;
 *   secrets: extra worker secrets (written to the env file, never on a command line);
 *   testScheduled: run wrangler with --test-scheduled, so `h.runCron()` can fire the cron handler;
 *   logLevel: wrangler's, default `info`, which hides the worker's console.log; `log` shows it;
 *   services: service bindings added to the main worker, e.g. [{ binding: 'ORIGIN', service: 'x' }];
 *   workers: extra workers for the same `wrangler dev`, [{ name, main, vars }] (see writeWorkerConfigs);
 *   extraConfigs: paths of more worker configs for the same `wrangler dev` (see writeExtraConfigs);
 *   protocol: `https` serves the worker over TLS with wrangler's self-signed certificate, so the
 *     caller must accept it, e.g. NODE_TLS_REJECT_UNAUTHORIZED=0 in its own process.
 *   origin: `demo` (demo/origin.mjs, SDK 1.x) or `v2` (tests/e2e/fixtures/origin-v2.mjs: SDK v2,
 *     strict 2026-07-28 beside 2025 sessions; its /__seen also records each request's body).
 *   buildDir: the built worker to run, default build/ (the fault suite runs build-faults/).
 * Returns { base, mcpUrl, password, signingKey, originBase, vars, seen(), sql(), runCron(),
 * restart(), stop(), logTail() }. On a failed start it throws with the tail of wrangler's output.
 */
export async function startHarness({
  name = 'e2e', vars = {}, secrets = {}, testScheduled = false, logLevel = 'info', services = [], workers = [], extraConfigs = [],
  protocol = 'http', origin: originKind = 'demo', buildDir,
} = {}) {
  const dir = join(ROOT, 'tests/e2e/.tmp', `${name}-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  let persist = join(dir, 'state'); // restart({ persist }) moves the worker to another local D1 state
  const wranglerLog = join(dir, 'wrangler.log');
  const password = `owner-${randomBytes(12).toString('base64url')}`;
  const signingKey = randomBytes(32).toString('base64url'); // Ed25519 seed, base64url without padding
  const envFile = join(dir, 'secrets.env');
  const writeSecrets = (more = {}) => {
    const all = { SIGNING_KEY: signingKey, OWNER_PASSWORD: password, ...secrets, ...more };
    writeFileSync(envFile, Object.entries(all).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  };
  writeSecrets();

  let origin = await startOrigin(dir, 0, originKind);
  let worker = null;
  const h = {
    dir,
    password,
    signingKey,
    originBase: origin.base,
    originMcpUrl: `${origin.base}/mcp`,
    base: null,
    mcpUrl: null,
    vars: { ...vars },
    logFile: wranglerLog,
    logTail: (n) => tail(wranglerLog, n),
    /** Headers of every request the origin received, oldest first. */
    async seen() {
      const r = await fetch(`${origin.base}/__seen`, { signal: AbortSignal.timeout(5_000) });
      return r.json();
    },
  };

  try {
    const { path: config, compatibilityDate } = await writeTestConfig(dir, buildDir ?? process.env.GATEHOUSE_E2E_BUILD_DIR ?? join(ROOT, 'build'), services);
    const extra = [...writeWorkerConfigs(dir, workers, compatibilityDate), ...(await writeExtraConfigs(dir, extraConfigs, h.originMcpUrl))];
    const port = await freePort();
    const inspectorPort = await freePort();
    h.base = `${protocol}://127.0.0.1:${port}`;
    h.mcpUrl = `${h.base}/mcp`;
    const env = wranglerEnv(dir);
    const opts = { cwd: dir, env, log: wranglerLog };
    /** The generated wrangler config and local D1 state, for tests that run wrangler themselves. */
    h.configPath = config;
    h.persistDir = persist;

    /**
     * Runs SQL (one or more `;`-separated statements) on the worker's local D1 with
     * `wrangler d1 execute --local`, and returns the rows of all statements, in order.
     */
    h.sql = (statement) =>
      new Promise((res, rej) => {
        execFile(
          process.execPath,
          [WRANGLER, 'd1', 'execute', 'DB', '--local', '--persist-to', persist, '-c', config, '--json', '--command', statement],
          { cwd: dir, env, timeout: 90_000, maxBuffer: 16 << 20 },
          (err, stdout, stderr) => {
            if (err) return rej(new Error(`wrangler d1 execute failed: ${err.message}\n${stdout}\n${stderr}`));
            try {
              res(JSON.parse(stdout).flatMap((r) => r.results ?? []));
            } catch (e) {
              rej(new Error(`wrangler d1 execute printed no JSON: ${e.message}\n${stdout.slice(0, 2000)}`));
            }
          },
        );
      });
    /** Fires the scheduled (cron) handler once; needs `testScheduled`. */
    h.runCron = async (cron = '17 * * * *') => {
      if (!testScheduled) throw new Error('startHarness({ testScheduled: true }) is needed for runCron');
      const r = await fetch(`${h.base}/__scheduled?cron=${encodeURIComponent(cron)}`, { signal: AbortSignal.timeout(30_000) });
      return { status: r.status, text: await r.text() };
    };

    writeFileSync(wranglerLog, `# wrangler d1 migrations apply (${new Date().toISOString()})\n`);
    const rc = await runToEnd(
      process.execPath,
      [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist, '-c', config],
      opts,
      90_000,
    );
    if (rc !== 0) throw new Error(`wrangler d1 migrations apply failed (${rc})`);

    const startWorker = async () => {
      writeFileSync(wranglerLog, `\n# wrangler dev (${new Date().toISOString()})\n`, { flag: 'a' });
      worker = spawnLogged(
        process.execPath,
        [
          WRANGLER, 'dev', '-c', config, ...extra.flatMap((c) => ['-c', c]),
          '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
          '--persist-to', persist, '--env-file', envFile,
          '--var', `ORIGIN_URL:${h.originMcpUrl}`,
          ...Object.entries(h.vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
          '--log-level', logLevel, '--show-interactive-dev-session=false',
          ...(testScheduled ? ['--test-scheduled'] : []),
          ...(protocol === 'https' ? ['--local-protocol', 'https'] : []),
        ],
        opts,
      );
      const deadline = Date.now() + START_TIMEOUT_MS;
      try {
        await waitForHttp(`${h.base}/.well-known/oauth-authorization-server`, deadline, () => worker.exitCode !== null);
      } catch (err) {
        await killGroup(worker);
        err.message = `wrangler dev did not start: ${err.message}\n--- tail of ${wranglerLog} ---\n${tail(wranglerLog)}\n--- end ---`;
        throw err;
      }
    };
    /**
     * Restarts the worker. `secrets` (e.g. other signing keys) adds to / replaces the
     * secrets; `vars` replaces the extra vars given to startHarness; `persist` is another
     * local D1 state directory to run on from now on; `kill`: SIGKILL instead of SIGTERM.
     */
    h.restart = async ({ secrets: moreSecrets, vars: newVars, persist: newPersist, kill = false } = {}) => {
      await killGroup(worker, { hard: kill });
      if (moreSecrets) writeSecrets(moreSecrets);
      if (newVars) h.vars = { ...newVars };
      if (newPersist) h.persistDir = persist = newPersist;
      await startWorker();
    };
    /** The process group of the running `wrangler dev` (its workerd included), for sampling memory. */
    h.workerGroup = () => worker?.pid;
    /** Stops the demo origin (to see how Gatehouse answers when it is unreachable). */
    h.stopOrigin = () => killGroup(origin.child);
    /** Starts it again on the same port; it forgets the requests it saw. */
    h.startOrigin = async () => {
      origin = await startOrigin(dir, new URL(origin.base).port, originKind);
    };
    h.stop = async () => {
      await killGroup(worker);
      await killGroup(origin.child);
      if (!process.env.GATEHOUSE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
    };
    await startWorker();
    return h;
  } catch (err) {
    await killGroup(worker);
    await killGroup(origin.child);
    if (!err.message.includes(wranglerLog)) {
      err.message += `\n--- tail of ${wranglerLog} ---\n${tail(wranglerLog)}\n--- end ---`;
    }
    err.message = `harness failed to start: ${err.message}`;
    throw err;
  }
}
