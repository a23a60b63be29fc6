// The soak of tests/e2e/soak.mjs against the peer: bench/baseline/worker.ts, built on
// @cloudflare/workers-oauth-provider with its state in KV (persisted to disk here, as a deployed
// KV namespace outlives isolates), in its own workerd under Miniflare, SIGKILLed and restarted
// on the same KV like Gatehouse. Only the clients' side of the invariants applies (the KV
// records are the library's own format); the D1 checks are skipped.
//   node bench/soak_baseline.mjs [--flows N] [--restarts N] [--seconds S]   (npm run soak -- --baseline runs it after Gatehouse's)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { freePort } from '../tests/e2e/ports.mjs';
import { runSoak } from '../tests/e2e/soak.mjs';
import { childPids } from './lib/cpu.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = join(ROOT, 'bench/.tmp', `soak-baseline-${process.pid}`);
const log = (m) => console.log(`[soak baseline] ${m}`);

export async function soakBaseline({ flows = 200, restarts = 2, steadySeconds = 180 } = {}) {
  mkdirSync(tmp, { recursive: true });
  const bundle = join(tmp, 'baseline.mjs');
  await build({
    entryPoints: [join(ROOT, 'bench/baseline/worker.ts')], outfile: bundle, bundle: true, format: 'esm', platform: 'neutral',
    target: 'es2022', conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], external: ['cloudflare:*', 'node:*'], logLevel: 'warning',
  });
  const origin = spawn(process.execPath, [join(ROOT, 'demo/origin.mjs')], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const originBase = await new Promise((res, rej) => {
    let out = '';
    origin.stdout.on('data', (d) => {
      out += d;
      const m = /origin listening on (http:\/\/127\.0\.0\.1:\d+)\/mcp/.exec(out);
      if (m) res(m[1]);
    });
    origin.once('exit', (code) => rej(new Error(`demo origin exited (${code})`)));
  });
  const port = await freePort();
  const password = `owner-${randomBytes(12).toString('base64url')}`;
  const start = async () => {
    const before = new Set(childPids(process.pid, 'workerd'));
    const mf = new Miniflare(convertV4MiniflareOptions({
      host: '127.0.0.1', port, cf: false, logRequests: false, handleStructuredLogs: () => {},
      modules: true, scriptPath: bundle, compatibilityDate: '2026-11-01', kvNamespaces: ['OAUTH_KV'], kvPersist: join(tmp, 'kv'),
      bindings: { PUBLIC_URL: `http://127.0.0.1:${port}`, ORIGIN_URL: `${originBase}/mcp`, OWNER_PASSWORD: password },
    }));
    await mf.ready;
    return { mf, pid: childPids(process.pid, 'workerd').find((p) => !before.has(p)) };
  };
  let worker = await start();
  const h = {
    base: `http://127.0.0.1:${port}`,
    mcpUrl: `http://127.0.0.1:${port}/mcp`,
    password,
    async restart({ kill = false } = {}) {
      if (kill && worker.pid) process.kill(worker.pid, 'SIGKILL');
      await worker.mf.dispose().catch(() => {});
      worker = await start();
    },
    workerPid: () => worker.pid,
  };
  try {
    log(`${flows} flows, ${restarts} kills, steady load for ${steadySeconds} s (baseline ${h.base})`);
    return await runSoak(h, { flows, restarts, steadySeconds, refreshRace: 3, restartWindowMs: 20_000, log });
  } finally {
    await worker.mf.dispose().catch(() => {});
    origin.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { flows: { type: 'string', default: '200' }, restarts: { type: 'string', default: '2' }, seconds: { type: 'string', default: '180' } } });
  const report = await soakBaseline({ flows: Number(values.flows), restarts: Number(values.restarts), steadySeconds: Number(values.seconds) });
  console.log(JSON.stringify(report, null, 1));
}
