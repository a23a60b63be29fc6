// `npm run soak` (issue 16 §1): the soak of tests/e2e/soak.mjs at full size against the fresh
// build (build/), on 127.0.0.1: 200 OAuth flows at once with three racing refreshes per grant,
// a steady MCP load for a few minutes, workerd killed and restarted twice; then the invariants.
// Writes bench/SOAK.md and exits 1 if an invariant does not hold.
//   node scripts/soak.mjs [--flows N] [--restarts N] [--seconds S] [--baseline]   (scripts/soak.sh sets up first)
// --baseline: then the same soak, without the kills, against the workers-oauth-provider baseline
// (bench/soak_baseline.mjs), and its figures beside Gatehouse's.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startHarness, ROOT, freePort } from '../tests/e2e/harness.mjs';
import { initializeBody, manualFlow, mcpPost } from '../tests/e2e/oauth.mjs';
import { runSoak } from '../tests/e2e/soak.mjs';
import { soakBaseline } from '../bench/soak_baseline.mjs';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '200' }, restarts: { type: 'string', default: '2' }, seconds: { type: 'string', default: '180' }, baseline: { type: 'boolean', default: false } } });
const opts = { flows: Number(values.flows), restarts: Number(values.restarts), steadySeconds: Number(values.seconds), refreshRace: 3, restartWindowMs: 20_000 };
const log = (m) => console.log(`[soak] ${m}`);

// Every host here comes from 127.0.0.1, and one owner authorizes 200 clients within seconds
// (again after each kill): the per-address registration cap (60 an hour) and storage budget
// (200 pending sign-ins an hour), made for strangers, are lifted; 200 hosts from 200 addresses
// would not meet them.
const h = await startHarness({ name: 'soak', vars: { REGISTRATIONS_PER_HOUR: '0', SOURCE_BUDGET_PER_HOUR: '0' } });
let report;
try {
  log(`${opts.flows} flows, ${opts.restarts} kills, steady load for ${opts.steadySeconds} s (worker ${h.base})`);
  report = await runSoak(h, { ...opts, log });
} finally {
  await h.stop();
}
// ---- memory: Gatehouse's own, against the runner's ------------------------------------------
// workerd's resident memory under `wrangler dev` grows by tens of kB per request for any worker,
// a hello-world one included (the dev runtime keeps per-request state): on its own it says
// nothing about Gatehouse. So the same steady MCP load runs against (1) Gatehouse's test-faults
// build, whose answers report the wasm instance's linear memory (what Gatehouse's Rust holds),
// and (2) the no-auth passthrough worker (bench/reference/passthrough.js) under the same runner.
const rssOf = (group) => execFileSync('ps', ['-eo', 'pgid=,rss=,comm='], { encoding: 'utf8' }).split('\n')
  .map((l) => l.trim().split(/\s+/)).filter(([g, , c]) => Number(g) === group && c === 'workerd').reduce((s, [, r]) => s + Number(r), 0);

async function steadyLoad(url, headers, seconds, sample) {
  const out = [];
  const t0 = Date.now();
  let n = 0;
  out.push({ n, ...(await sample()) });
  while (Date.now() - t0 < seconds * 1000) {
    await Promise.all(Array.from({ length: 8 }, async () => {
      const r = await mcpPost(url, initializeBody(), headers);
      if (r.status !== 200) throw new Error(`memory probe: ${url} answered ${r.status}`);
    }));
    n += 8;
    if (n % 400 === 0) out.push({ n, ...(await sample()) });
  }
  out.push({ n, ...(await sample()) });
  return out;
}

async function memoryProbe(seconds) {
  const g = await startHarness({ name: 'soak-memory', buildDir: join(ROOT, 'build-faults') });
  try {
    const f = await manualFlow(g);
    const pages = async () => Number((await fetch(`${g.base}/.well-known/oauth-authorization-server`)).headers.get('x-gatehouse-test-wasm-pages'));
    const gatehouse = await steadyLoad(g.mcpUrl, { authorization: `Bearer ${f.token.json.access_token}` }, seconds, async () => ({ rss: rssOf(g.workerGroup()), wasmPages: await pages() }));
    // The passthrough, under the same runner, to the same origin.
    const dir = join(ROOT, 'bench/.tmp', `soak-passthrough-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'wrangler.json'), JSON.stringify({ name: 'passthrough', main: join(ROOT, 'bench/reference/passthrough.js'), compatibility_date: '2026-11-01' }));
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '-c', join(dir, 'wrangler.json'), '--ip', '127.0.0.1', '--port', String(port),
      '--inspector-port', String(await freePort()), '--var', `ORIGIN_URL:${g.originMcpUrl}`, '--show-interactive-dev-session=false'], { detached: true, stdio: 'ignore', cwd: dir });
    try {
      for (let i = 0; i < 240; i++) {
        try {
          await fetch(`http://127.0.0.1:${port}/`);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      const passthrough = await steadyLoad(`http://127.0.0.1:${port}/mcp`, {}, seconds, async () => ({ rss: rssOf(child.pid) }));
      return { gatehouse, passthrough };
    } finally {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await g.stop();
  }
}

log(`memory probe: the same steady MCP load for ${Math.min(opts.steadySeconds, 60)} s against Gatehouse and the passthrough`);
const memory = await memoryProbe(Math.min(opts.steadySeconds, 60));
const perRequest = (s) => ((s.at(-1).rss - s[0].rss) / Math.max(1, s.at(-1).n)).toFixed(1);

const lines = [
  '# Soak results (`npm run soak`)',
  '',
  `Run ${new Date().toISOString()} on ${process.platform}/${process.arch}, Node ${process.version}; the fresh build in workerd (wrangler dev, local D1).`,
  'What it does and the invariants it checks: `tests/e2e/soak.mjs`. Written by `scripts/soak.mjs`.',
  '',
  '| figure | value |',
  '|---|---|',
  `| flows (register → authorize → sign-in/consent → token → MCP → 2 refresh races of ${opts.refreshRace}) | ${report.flowsCompleted} of ${report.flows} completed |`,
  `| code answers lost in a kill (the retry is a reuse and revokes; the host starts again) | ${report.codeAnswersLostInKill} |`,
  `| grants in D1 / revoked | ${report.grantsInD1} / ${report.revokedGrants} |`,
  `| requests answered | ${report.requests} (steady MCP sessions: ${report.steadyCalls}) |`,
  `| connections refused while workerd was down (retried) | ${report.refusedWhileDown} |`,
  `| hangs past 30 s | ${report.hangs} |`,
  `| /mcp answers 502/504 in JSON-RPC shape: the origin (Node's demo server) unreachable or slow | ${report.originFailures} |`,
  `| latency p50 / p99 | ${report.p50ms} ms / ${report.p99ms} ms |`,
  `| workerd killed (SIGKILL) and restarted | ${report.restarts.map((r) => `at ${(r.at / 1000).toFixed(1)} s (back in ${r.tookMs} ms)`).join(', ')} |`,
  `| run time | ${report.seconds} s |`,
  '',
  '## Answers by endpoint and status',
  '',
  '| endpoint status | count |',
  '|---|---|',
  ...Object.entries(report.answersByKind).sort().map(([k, n]) => `| ${k} | ${n} |`),
  '',
  '## workerd resident memory (kB) during the soak, per process lifetime (sampled every second; see the memory section below)',
  '',
  '| lifetime | samples | first | last | max |',
  '|---|---|---|---|---|',
  ...Object.entries(report.memoryKbBySegment).map(([s, m]) => `| ${Number(s) + 1} | ${m.samples} | ${m.first} | ${m.last} | ${m.max} |`),
  '',
  '## Memory: Gatehouse against the runner',
  '',
  `The same steady MCP load (initialize, 8 at a time) for ${Math.min(opts.steadySeconds, 60)} s against Gatehouse (test-faults build: its answers report the wasm`,
  "instance's linear memory) and against the no-auth passthrough worker, each in its own `wrangler dev`. workerd's resident memory",
  'grows under `wrangler dev` for any worker; what Gatehouse adds is the difference, and what its Rust holds is the wasm memory.',
  '',
  '| worker | requests | workerd RSS first → last (kB) | growth per request (kB) | wasm memory first → last (64 KiB pages) |',
  '|---|---|---|---|---|',
  `| Gatehouse | ${memory.gatehouse.at(-1).n} | ${memory.gatehouse[0].rss} → ${memory.gatehouse.at(-1).rss} | ${perRequest(memory.gatehouse)} | ${memory.gatehouse[0].wasmPages} → ${memory.gatehouse.at(-1).wasmPages} |`,
  `| passthrough | ${memory.passthrough.at(-1).n} | ${memory.passthrough[0].rss} → ${memory.passthrough.at(-1).rss} | ${perRequest(memory.passthrough)} | — |`,
  '',
  '## Invariants',
  '',
  report.violations.length ? report.violations.map((v) => `- VIOLATED: ${v}`).join('\n') : 'All held: no 5xx without Retry-After (but the origin\'s own failures, answered 502/504 in JSON-RPC shape and counted above), no hang, every last token of every grant works, no code redeemed twice, no grant revoked without a reuse, nothing half-written in D1.',
  '',
];
if (values.baseline) {
  const summary = (r) => {
    const kinds = {};
    for (const v of r.violations) {
      const k = v.replace(/[A-Za-z0-9_-]{16,}/g, '…').slice(0, 110);
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
    return [
      `| flows completed | ${r.flowsCompleted} of ${r.flows} |`,
      `| answers by kind | ${Object.entries(r.answersByKind).sort().map(([k, n]) => `${k}: ${n}`).join(', ')} |`,
      `| latency p50 / p99 | ${r.p50ms} ms / ${r.p99ms} ms |`,
      `| workerd memory (kB) per lifetime, first → last (max) | ${Object.values(r.memoryKbBySegment).map((m) => `${m.first} → ${m.last} (${m.max})`).join('; ')} |`,
      '',
      'Invariants it broke (count):',
      '',
      ...(Object.keys(kinds).length ? Object.entries(kinds).map(([k, n]) => `- ${n} × ${k}`) : ['- none']),
      '',
    ];
  };
  log('the same soak against the baseline, without kills');
  const calm = await soakBaseline({ ...opts, restarts: 0 });
  lines.push(
    '## The peer: workers-oauth-provider (bench/baseline/worker.ts), the same soak without kills',
    '',
    "Its state is in KV (Miniflare's local KV). Only the clients' side of the invariants applies; its records are the",
    "library's own. Not run with kills: after a SIGKILL, Miniflare's local KV did not give back the clients registered",
    'before it (the next requests answered `invalid_client`), which says more about the local simulator than about the',
    'library on real KV, so it is not compared. What it loses without any kill is below.',
    '',
    '| figure | value |',
    '|---|---|',
    ...summary(calm),
  );
}
writeFileSync(join(ROOT, 'bench/SOAK.md'), lines.join('\n'));
log(`written bench/SOAK.md; ${report.violations.length ? `${report.violations.length} violations` : 'every invariant held'}`);
process.exit(report.violations.length ? 1 : 0);
