// The results table of `npm run bench`: min / median / max over the repetitions,
// the targets (1 and 2 by the median of per-repetition ratios, the rest as ratios of medians), and the CPU of every load run (so a noisy run can be recognised).
// Writes bench/RESULTS.md and returns the same Markdown for the console.
import { writeFileSync } from 'node:fs';

const KIB = 1024;
const WASM_TARGET_GZIP = 350 * KIB; // issue 14, target 6
const NOISY_SHARE = 0.1; // "other processes" above 10 % of the machine: a noisy run

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => (xs.length ? { min: Math.min(...xs), med: median(xs), max: Math.max(...xs) } : null);
const fmt = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const triple = (xs, digits) => {
  const s = stats(xs);
  return s ? `${fmt(s.min, digits)} / **${fmt(s.med, digits)}** / ${fmt(s.max, digits)}` : '—';
};
const kib = (n) => `${(n / KIB).toFixed(1)} KiB`;

export function writeResults({ file, config, started, finished, machine, versions, runs, flows, cold, isolates, trips, wasm, floorWasm, baselineBundle }) {
  const pick = (kind, target) => runs.filter((r) => r.kind === kind && r.target === target);
  const col = (kind, target, f) => pick(kind, target).map(f);
  const cpuPerReq = (r, proc) => (1000 * r.cpu.procs[proc]) / r.ok;
  const targets = ['direct', 'gatehouse', 'baseline', 'passthrough', 'rustfloor', 'rustfloorplus'];
  const gw = ['gatehouse', 'baseline'];
  const workers = ['gatehouse', 'baseline', 'passthrough', 'rustfloor', 'rustfloorplus'];
  const isoRow = (label, field, digits) => `| ${label} | — | ${workers.map((w) => triple(isolates[w]?.[field] ?? [], digits)).join(' | ')} |`;
  const coldRow = (label, suffix, digits) => `| ${label} | — | ${workers.map((w) => triple(cold[`${w}${suffix}`] ?? [], digits)).join(' | ')} |`;
  const row = (label, kind, f, digits, only = targets) =>
    `| ${label} | ${targets.map((t) => (only.includes(t) ? triple(col(kind, t, f), digits) : '—')).join(' | ')} |`;

  const table = [
    '| Measurement (min / **median** / max) | Direct origin | Gatehouse | Baseline | Passthrough (reference, no auth) | Rust floor (reference, no check) | Rust floor + origin timeout + identity headers (reference, no check) |',
    '|---|---|---|---|---|---|---|',
    row('`tools/call` throughput (req/s)', 'auth', (r) => r.rps, 0),
    row('`tools/call` latency p50 (ms)', 'auth', (r) => r.p50, 1),
    row('`tools/call` latency p99 (ms)', 'auth', (r) => r.p99, 1),
    row('Unauthenticated 401 throughput (req/s)', '401', (r) => r.rps, 0, [...gw, 'rustfloor']),
    row('Unauthenticated 401 latency p50 (ms)', '401', (r) => r.p50, 1, [...gw, 'rustfloor']),
    row('Unauthenticated 401 latency p99 (ms)', '401', (r) => r.p99, 1, [...gw, 'rustfloor']),
    row('Forged token → 401 throughput (req/s)', 'forged', (r) => r.rps, 0, gw),
    row('`tools/call` throughput, pinned: the worker\'s workerd on CPU 0, origin and load generator on CPU 1 (req/s)', 'pinned', (r) => r.rps, 0, workers),
    row('Runtime CPU per `tools/call`, pinned (ms)', 'pinned', (r) => cpuPerReq(r, r.runtime), 3, workers),
    isoRow('Cold start: a new isolate in a running workerd (Worker Loader) until its first answer (MCP POST, no token) (ms)', 'cold', 1),
    isoRow('… workerd CPU over that request, all threads (ms)', 'coldCpu', 1),
    isoRow('… a second request to the same isolate, for comparison (ms)', 'warm', 1),
    coldRow('Cold start with a process start: a fresh workerd (one D1 and one KV binding each) until its first answer (ms)', '', 0),
    coldRow('… of which the first request, once workerd is ready (ms)', 'First', 1),
    coldRow('… workerd CPU time from its start to that first answer, all threads (ms)', 'Cpu', 1),
    `| One OAuth flow, DCR → authorize → login/consent → token (ms) | — | ${triple(flows.Gatehouse, 1)} | ${triple(flows.Baseline, 1)} | — | — | — |`,
    row('Runtime CPU per `tools/call` (ms): the origin\'s Node process for direct, the worker\'s workerd otherwise', 'auth', (r) => cpuPerReq(r, r.runtime), 3),
    row('Origin CPU per `tools/call` (ms), same runs', 'auth', (r) => cpuPerReq(r, 'origin'), 3),
    row('Workerd CPU per 401, no token (ms)', '401', (r) => cpuPerReq(r, r.runtime), 3, [...gw, 'rustfloor']),
    row('Gateway workerd CPU per 401, forged token (ms): the no-token cost plus checking a token', 'forged', (r) => cpuPerReq(r, r.runtime), 3, gw),
    `| Code size: wasm, baseline JS bundle (raw / gzip level 9 by Node zlib; GNU gzip -9, as scripts/build.sh prints, is ~2 % smaller) | — | ${wasm ? `${kib(wasm.raw)} / ${kib(wasm.gzip)}` : 'not built'} | ${kib(baselineBundle.raw)} / ${kib(baselineBundle.gzip)} | — | ${floorWasm ? `${kib(floorWasm.raw)} / ${kib(floorWasm.gzip)}` : 'not built'} | — |`,
  ];

  // Ratios of medians, and the spread of the same ratio taken repetition by repetition.
  const med = (kind, target, f) => stats(col(kind, target, f))?.med ?? NaN;
  const perRep = (kind, a, b) => {
    const xs = pick(kind, a).map((r, i) => r.rps / pick(kind, b)[i]?.rps).filter(Number.isFinite);
    const s = stats(xs);
    return s ? ` (per repetition ${fmt(s.min, 2)}–${fmt(s.max, 2)})` : '';
  };
  const ghRps = med('auth', 'gatehouse', (r) => r.rps);
  const ghCpu = med('auth', 'gatehouse', (r) => cpuPerReq(r, 'gatehouse'));
  const baseCpu = med('auth', 'baseline', (r) => cpuPerReq(r, 'baseline'));
  const floorCpu = med('auth', 'passthrough', (r) => cpuPerReq(r, 'passthrough'));
  const ownShare = (ghCpu - floorCpu) / (baseCpu - floorCpu);
  // Targets 1 and 2 are judged repetition by repetition (the runs of one repetition are
  // interleaved, so they share the machine's state), by the median of those ratios: a ratio of
  // medians pairs figures from different repetitions, and once came out under ¼ when every
  // single repetition was above it (bench/NOTES.md).
  const cpus = (kind, t) => pick(kind, t).map((r) => cpuPerReq(r, t));
  const ownShares = (t) => {
    const [mine, pass, base] = [cpus('auth', t), cpus('auth', 'passthrough'), cpus('auth', 'baseline')];
    return stats(mine.map((x, i) => (x - pass[i]) / (base[i] - pass[i])).filter(Number.isFinite));
  };
  const rpsRatios = (kind, a) => stats(pick(kind, a).map((r, i) => r.rps / pick(kind, 'passthrough')[i]?.rps).filter(Number.isFinite));
  const range = (s) => (s ? `per repetition ${fmt(s.min, 2)}–${fmt(s.max, 2)}, median **${fmt(s.med, 2)} ×**` : 'n/a');
  const pinnedRatio = med('pinned', 'gatehouse', (r) => r.rps) / med('pinned', 'passthrough', (r) => r.rps);
  const unpinnedRatio = ghRps / med('auth', 'passthrough', (r) => r.rps);
  const cpu401 = (kind, t) => med(kind, t, (r) => cpuPerReq(r, t));
  const flowGh = stats(flows.Gatehouse)?.med ?? NaN;
  const flowBase = stats(flows.Baseline)?.med ?? NaN;
  // Flows ran in pairs (one each, back to back): the pair's difference drifts less than either.
  const flowPairs = flows.Gatehouse.map((g, i) => g - flows.Baseline[i]).filter(Number.isFinite);
  const flowPairNote = flowPairs.length
    ? `; per pair (Gatehouse − baseline, ${flowPairs.length} pairs) median ${fmt(stats(flowPairs).med, 1)} ms, Gatehouse faster in ${flowPairs.filter((d) => d < 0).length}`
    : '';
  const coldMed = (k) => stats(cold[k])?.med ?? NaN;
  // The whole cold start is judged by the fastest sample of each worker: a fresh workerd's
  // start-up varies by ±50 ms from sample to sample, in wall and in CPU time alike, more than
  // the scripts differ, and that noise only ever adds (bench/NOTES.md). The first request
  // alone is stable: medians.
  const coldMin = (k) => stats(cold[k])?.min ?? NaN;
  const coldAbove = (k) => coldMin(k) - coldMin('passthrough');
  const coldGh = coldAbove('gatehouse');
  const coldFirst = (k) => coldMed(`${k}First`) - coldMed('passthroughFirst');
  const coldBase = coldAbove('baseline');
  const mark = (ok) => (ok ? 'met' : '**missed**');
  // Target 5 is judged on new isolates in one running workerd: sample by sample, each worker's
  // first answer minus the passthrough's of the same sample (interleaved), median of those.
  // A fresh workerd per sample adds a process start that varies by more than the workers differ.
  const isoAbove = (k, field = 'cold') => stats((isolates[k]?.[field] ?? []).map((x, i) => x - isolates.passthrough[field][i]).filter(Number.isFinite));
  const isoGh = isoAbove('gatehouse')?.med ?? NaN;
  const isoBase = isoAbove('baseline')?.med ?? NaN;
  const isoFloor = isoAbove('rustfloor')?.med ?? NaN;
  const isoRatio = (x) => (isoBase > 0 ? `${fmt(x / isoBase, 2)} ×` : 'no ratio (the baseline was not above the passthrough)');
  const isoCpu = (k) => fmt(isoAbove(k, 'coldCpu')?.med ?? NaN, 1);
  const isoSpread = (k) => {
    const st = isoAbove(k);
    return st ? `${fmt(st.min, 1)}…${fmt(st.max, 1)}` : 'n/a';
  };
  // Target 5 taken apart: the module compiled by a worker that never instantiates it, then
  // instantiated with its glue run but no request answered. What is left of the allowance
  // (2 x the baseline) after that is all the first request may cost; the floor's first request
  // (its whole worker minus its instantiated module) is the least a `worker`-crate one costs.
  const isoFirst = (k) => isoAbove(k)?.med - isoAbove(`${k}Instantiated`)?.med;
  const isoModule = isoAbove('gatehouseInstantiated')?.med ?? NaN;
  const isoLeft = 2 * isoBase - isoModule;
  // Target 4: the fault build's counts (bench/lib/round_trips.mjs). The four endpoints the issue
  // names, at most 2 each; `/mcp` none once the token and the revocation view are in the isolate.
  const judged = trips.filter((r) => /^\S+ \/(token|authorize|consent|register)\b/.test(r.request));
  const hot = trips.filter((r) => r.request.includes('the hot path'));
  const tripsVerdict = {
    ok: judged.length >= 4 && hot.length > 0 && judged.every((r) => r.trips <= 2) && hot.every((r) => r.trips === 0),
    text: `most on those four: ${Math.max(...judged.map((r) => r.trips))} (${judged.length} requests); \`/mcp\` hot path: ${hot.map((r) => r.trips).join(', ')}`,
  };
  const tripsTable = [
    '| Request (an MCP client\'s first connection, in order) | Sequential D1 round trips |',
    '|---|---|',
    ...trips.map((r) => `| ${r.request} | ${r.trips} |`),
  ];
  // The same target, judged for the Rust floor: what any worker built on the `worker` crate
  // reaches at best on this runner. A target the floor itself misses cannot be met by
  // Gatehouse in Rust; the distance from the floor to Gatehouse is Gatehouse's own work.
  const rfCpu = med('auth', 'rustfloor', (r) => cpuPerReq(r, 'rustfloor'));
  const rfShare = (rfCpu - floorCpu) / (baseCpu - floorCpu);
  const rfPinned = med('pinned', 'rustfloor', (r) => r.rps) / med('pinned', 'passthrough', (r) => r.rps);
  const floorCan = (ok) => (ok ? 'the floor meets it' : '**the floor misses it too**');
  // The floor that also bounds the wait for the origin and sends the identity headers: the
  // origin-facing work of every Gatehouse forward (both documented features), none of the checks.
  const rpCpu = med('auth', 'rustfloorplus', (r) => cpuPerReq(r, 'rustfloorplus'));
  const plusCan = (ok) => (ok ? 'meets it' : '**misses it too**');
  const targetsTable = [
    '| Target (issue 14) | This run | | The Rust floor on the same target (a `worker`-crate worker that checks nothing) |',
    '|---|---|---|---|',
    `| 1. Own CPU per \`tools/call\` above the passthrough ≤ ¼ of the baseline's own | ${range(ownShares('gatehouse'))}; medians ${fmt(ghCpu - floorCpu, 3)} vs ${fmt(baseCpu - floorCpu, 3)} ms: ${fmt(ownShare, 2)} × | ${mark(ownShares('gatehouse')?.med <= 0.25)} | ${range(ownShares('rustfloor'))}, ${floorCan(ownShares('rustfloor')?.med <= 0.25)}; medians ${fmt(rfCpu - floorCpu, 3)} ms: ${fmt(rfShare, 2)} ×; Gatehouse above the floor ${fmt(ghCpu - rfCpu, 3)} ms. With the origin timeout and the identity headers: ${range(ownShares('rustfloorplus'))}, ${plusCan(ownShares('rustfloorplus')?.med <= 0.25)}; Gatehouse above it ${fmt(ghCpu - rpCpu, 3)} ms |`,
    `| 2. Throughput pinned ≥ 0.85 × the passthrough's (unpinned shown for reference) | pinned ${range(rpsRatios('pinned', 'gatehouse'))} (ratio of medians ${fmt(pinnedRatio, 2)} ×); unpinned ${fmt(unpinnedRatio, 2)} ×${perRep('auth', 'gatehouse', 'passthrough')} | ${mark(rpsRatios('pinned', 'gatehouse')?.med >= 0.85)} | pinned ${range(rpsRatios('pinned', 'rustfloor'))}, ${floorCan(rpsRatios('pinned', 'rustfloor')?.med >= 0.85)}; with the origin timeout and the identity headers ${range(rpsRatios('pinned', 'rustfloorplus'))}, ${plusCan(rpsRatios('pinned', 'rustfloorplus')?.med >= 0.85)} |`,
    `| 3a. CPU per 401, no token ≤ the baseline's | ${fmt(cpu401('401', 'gatehouse'), 3)} vs ${fmt(cpu401('401', 'baseline'), 3)} ms | ${mark(cpu401('401', 'gatehouse') <= cpu401('401', 'baseline'))} | ${fmt(cpu401('401', 'rustfloor'), 3)} ms, ${floorCan(cpu401('401', 'rustfloor') <= cpu401('401', 'baseline'))} |`,
    `| 3b. CPU per 401, forged token ≤ the baseline's | ${fmt(cpu401('forged', 'gatehouse'), 3)} vs ${fmt(cpu401('forged', 'baseline'), 3)} ms | ${mark(cpu401('forged', 'gatehouse') <= cpu401('forged', 'baseline'))} | — (checks no token) |`,
    `| 3c. One OAuth flow ≤ the baseline's time | medians ${fmt(flowGh, 1)} vs ${fmt(flowBase, 1)} ms${flowPairNote} | ${mark(flowGh <= flowBase)} | — (no flow) |`,
    `| 4. Sequential D1 round trips per endpoint (≤ 2 on \`/token\`, \`/authorize\`, \`/consent\`, \`/register\`; \`/mcp\` 0 on the hot path) | ${tripsVerdict.text} (table below) | ${mark(tripsVerdict.ok)} | — |`,
    `| 5. Cold start above the passthrough ≤ 2 × the baseline's (a new isolate in a running workerd to its first answer; median of ${isolates.gatehouse.cold.length} per-sample differences) | ${fmt(isoGh, 1)} vs ${fmt(isoBase, 1)} ms (per sample ${isoSpread('gatehouse')} vs ${isoSpread('baseline')}): ${isoRatio(isoGh)}; CPU ${isoCpu('gatehouse')} vs ${isoCpu('baseline')} ms. With a process start (fresh workerd, fastest of ${cold.gatehouse.length}, not judged): ${fmt(coldGh, 0)} vs ${fmt(coldBase, 0)} ms; first request alone (medians) ${fmt(coldFirst('gatehouse'), 1)} vs ${fmt(coldFirst('baseline'), 1)} ms | ${isoBase > 0 ? mark(isoGh <= 2 * isoBase) : 'not judged'} | ${fmt(isoFloor, 1)} ms (per sample ${isoSpread('rustfloor')}): ${isoRatio(isoFloor)}${isoBase > 0 ? `, ${floorCan(isoFloor <= 2 * isoBase)}` : ''}; CPU ${isoCpu('rustfloor')} ms; Gatehouse above the floor ${fmt(isoGh - isoFloor, 1)} ms. Gatehouse's module alone, compiled and instantiated with no request answered: ${fmt(isoModule, 1)} ms (${isoRatio(isoModule)}), which leaves its first request ${fmt(isoLeft, 1)} ms against the floor's ${fmt(isoFirst('rustfloor'), 1)} and its own ${fmt(isoFirst('gatehouse'), 1)} (below) |`,
    `| 6. Gatehouse wasm ≤ 350 KiB gzip | ${wasm ? kib(wasm.gzip) : 'not built'} | ${mark(wasm && wasm.gzip <= WASM_TARGET_GZIP)} | ${floorWasm ? kib(floorWasm.gzip) : 'not built'} |`,
  ];

  // What the machine allows: every gateway shares the cores with the origin and the load
  // generator, so no gateway can serve more than the origin alone, nor (in practice) more
  // than a worker that forwards without any authentication.
  const directRps = med('auth', 'direct', (r) => r.rps);
  const passRps = med('auth', 'passthrough', (r) => r.rps);
  const passCpu = med('auth', 'passthrough', (r) => cpuPerReq(r, 'passthrough'));
  const reading = [
    `- The passthrough's workerd used ${fmt(passCpu, 3)} ms per request: the runner's floor, included in every gateway's CPU figure.`
      + ` Gatehouse's own cost is about ${fmt(ghCpu - passCpu, 3)} ms on top of it; the baseline's about ${fmt(baseCpu - passCpu, 3)} ms.`,
    `- Unpinned, the origin alone served ${fmt(directRps, 0)} req/s and the no-auth passthrough ${fmt(passRps, 0)} req/s; every worker shares the two cores`
      + ' with the origin and the load generator, which is why target 2 is judged pinned.',
    `- workerd runs a worker on one thread, so one instance serves at most about 1 / (CPU per request): ${fmt(1000 / ghCpu, 0)} req/s for Gatehouse,`
      + ` ${fmt(1000 / baseCpu, 0)} for the baseline, ${fmt(1000 / passCpu, 0)} for the passthrough (runs where its workerd reached ~1.0 core in the table below are at that limit).`,
    `- Above the Rust floor (the same work done by a \`worker\`-crate worker that checks nothing), Gatehouse spends ${fmt(ghCpu - rfCpu, 3)} ms per \`tools/call\``
      + ` and ${fmt(cpu401('401', 'gatehouse') - cpu401('401', 'rustfloor'), 3)} ms per no-token 401; the floor itself is ${fmt(rfCpu - passCpu, 3)} ms above the JavaScript passthrough per \`tools/call\`.`,
    `- The floor with Gatehouse's origin timeout and identity headers (the two things every forward does for the origin, features the`
      + ` documentation promises) spends ${fmt(rpCpu - rfCpu, 3)} ms more than the floor per \`tools/call\`; Gatehouse spends ${fmt(ghCpu - rpCpu, 3)} ms above that`
      + ' (the token from the per-isolate memo, the revocation view, the session binding, the request and response headers, the security headers).',
    `- Target 5 taken apart (new isolates, medians of the per-sample differences from the passthrough): Gatehouse's wasm compiled by a worker that`
      + ` never instantiates it ${fmt(isoAbove('gatehouseWasmOnly')?.med ?? NaN, 1)} ms (the floor's ${fmt(isoAbove('rustfloorWasmOnly')?.med ?? NaN, 1)}), compiled and instantiated with the glue run`
      + ` ${fmt(isoModule, 1)} ms (the floor's ${fmt(isoAbove('rustfloorInstantiated')?.med ?? NaN, 1)}), the first request on top ${fmt(isoFirst('gatehouse'), 1)} ms (the floor's ${fmt(isoFirst('rustfloor'), 1)}).`
      + ` Twice the baseline's ${fmt(isoBase, 1)} ms leaves ${fmt(isoLeft, 1)} ms for a first request once Gatehouse's module is loaded: the module alone`
      + ` takes ${fmt((100 * isoModule) / (2 * isoBase), 0)} % of the allowance before any of its code runs (its size: about 7 µs per KB of raw wasm, validated whole at`
      + ' every new isolate; bench/NOTES.md, sessions 30 and 31).',
    `- Token checking alone (forged token minus no token, same gateway): Gatehouse ${fmt(med('forged', 'gatehouse', (r) => cpuPerReq(r, 'gatehouse')) - med('401', 'gatehouse', (r) => cpuPerReq(r, 'gatehouse')), 3)} ms,`
      + ` baseline ${fmt(med('forged', 'baseline', (r) => cpuPerReq(r, 'baseline')) - med('401', 'baseline', (r) => cpuPerReq(r, 'baseline')), 3)} ms per request.`,
  ];

  // CPU of every load run, in cores (CPU seconds per wall second).
  const cores = (x, r) => fmt(x / r.cpu.wall, 2);
  const label = { direct: 'direct', gatehouse: 'Gatehouse', baseline: 'baseline', passthrough: 'passthrough', rustfloor: 'Rust floor', rustfloorplus: 'Rust floor + timeout + identity' };
  const kindLabel = { auth: 'tools/call', '401': '401, no token', forged: '401, forged token', pinned: 'tools/call, pinned' };
  const noise = [
    '| Run | Wall (s) | OK / bad responses | Origin | Gatehouse workerd | Baseline workerd | Passthrough workerd | Rust floor workerd | Rust floor + timeout + identity workerd | Load generator | Other processes | Other, % of machine |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => {
      const share = r.cpu.other / r.cpu.capacity;
      return `| ${r.rep}: ${label[r.target]} ${kindLabel[r.kind]} | ${fmt(r.cpu.wall, 1)} | ${r.ok} / ${r.bad} | `
        + `${cores(r.cpu.procs.origin, r)} | ${cores(r.cpu.procs.gatehouse, r)} | ${cores(r.cpu.procs.baseline, r)} | ${cores(r.cpu.procs.passthrough, r)} | ${cores(r.cpu.procs.rustfloor, r)} | ${cores(r.cpu.procs.rustfloorplus, r)} | `
        + `${cores(r.cpu.loadgen, r)} | ${cores(r.cpu.other, r)} | ${fmt(100 * share, 0)} %${share > NOISY_SHARE ? ' (noisy)' : ''} |`;
    }),
  ];
  const shares = runs.map((r) => r.cpu.other / r.cpu.capacity);
  const noisy = shares.filter((s) => s > NOISY_SHARE).length;
  const badRuns = runs.filter((r) => r.bad > 0).length;
  const elapsed = Math.round((finished - started) / 1000);

  const md = `# Benchmark results

Generated by \`npm run bench\` (bench/run.mjs) on ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC,
in ${elapsed} s; rerunning the command rewrites this file.

- **Machine:** ${machine.cores} cores, ${machine.model}, ${machine.memGiB.toFixed(1)} GiB memory.
- **Runner:** the Miniflare API (miniflare ${versions.miniflare}, workerd ${versions.workerd}), one workerd process
  per worker, not \`wrangler dev\`. Everything on 127.0.0.1. Node ${versions.node} runs the demo origin
  (\`demo/origin.mjs\`, the MCP TypeScript SDK, stateful Streamable HTTP, answers as SSE) and the load generator
  (autocannon ${versions.autocannon}, in the runner's process).
- **Gatehouse:** commit ${versions.gatehouse}, \`build/\` from \`scripts/build.sh\` (worker-build --release), D1 in
  Miniflare with \`migrations/\` applied. **Baseline:** \`bench/baseline/worker.ts\` on
  @cloudflare/workers-oauth-provider ${versions.oauthProvider} (\`OAuthProvider\`, KV in Miniflare), bundled by esbuild.
  Both: owner password form, DCR, PKCE, tokens checked on every request, forwarding to the same origin without the
  client's token.
- **Method:** ${config.reps} repetitions, interleaved (direct, Gatehouse, baseline, passthrough, the two Rust floors, then the 401 paths), after a
  ${config.warmupSeconds} s warm-up of each path. Authenticated: MCP \`tools/call\` of \`echo\` for ${config.seconds} s at
  ${config.connections} connections over one MCP session per path (initialized once, a unique JSON-RPC id per
  request); every response's body is checked. 401 paths: the same POST without a token, and with a forged token
  (one character of the signature / secret changed), ${config.unauthSeconds} s each. Then \`tools/call\` again with each
  worker's workerd pinned to CPU 0 and the origin and the runner's process to CPU 1 (\`taskset\`), ${config.reps} repetitions. Cold
  start (target 5): one workerd whose driver worker (bench/lib/isolate_driver.js) has workerd's Worker Loader create a new
  Worker for every sample (${config.isolateSamples} per worker, order rotated per sample; each wasm gets a custom section naming
  the sample, so no two share compiled code) and passes it an MCP POST without a token: script load, wasm compile and
  instantiate, first request. Timed from the runner (wall) and by workerd's CPU over that request (schedstat, all threads), then
  a second request to the same isolate for comparison. The baseline has no KV binding there (the loader cannot pass one;
  its no-token 401 does not read KV). Two more workers per wasm take Gatehouse's and the floor's start apart: the passthrough
  carrying the wasm, which workerd compiles and nothing instantiates (bench/reference/wasm_only.js), and the same with the build's
  \`index.js\` loaded, so the module is instantiated and its glue run but no request reaches it (bench/reference/instantiate_only.js).
  Also, as before, with a process start: a fresh workerd per sample (${config.coldSamples} per worker, interleaved, each with one D1 and one KV binding so Miniflare sets up the same storage), from
  starting it to the first answer of an MCP POST without a token: wall time, and the CPU time of workerd's threads until then (schedstat).
  OAuth flow: a scripted client over HTTP (tests/e2e/oauth.mjs \`manualFlow\`), one unmeasured flow first, then ${flows.Gatehouse.length} each, in pairs whose order alternates.
  CPU: utime+stime of each process from /proc (${versions.clockTicks} ticks/s) ÷ responses served; "other" =
  machine busy time (/proc/stat) − origin − the five workerd − load generator; it includes short-lived processes and
  any outside this container's process view, which /proc/stat counts too. The load generator's process also
  hosts Miniflare's Node side, which receives the workers' log lines (Gatehouse writes one per request).
- **Passthrough** (\`bench/reference/passthrough.js\`) is not a gateway: a worker that forwards every request with no
  authentication, in its own workerd. Its CPU per request is the runner's floor (workerd ingress including Miniflare's
  entry worker, one subrequest through Miniflare's outbound worker, streaming the answer); a gateway's own cost is what
  it adds on top.
- **Rust floor** (\`bench/reference/rust-floor\`, built by scripts/bench.sh with Gatehouse's toolchain, \`worker\` crate
  version, release profile and binaryen pass) is not a gateway either: a Rust worker on the \`worker\` crate that answers
  a request without an \`Authorization\` header with a 401 and forwards any other, unchecked, as the passthrough does.
  It is what Rust on Workers costs before any of Gatehouse's work (the JavaScript glue of wasm-bindgen, the \`worker\`
  crate's request and response objects, wasm instantiation), so a target it misses itself cannot be met by Gatehouse
  as long as Gatehouse is a \`worker\`-crate worker. Its load runs are interleaved with the others' (\`tools/call\`,
  pinned, the no-token 401); it has no forged-token path (it checks no token) and no OAuth flow. **Rust floor + origin
  timeout + identity headers** (its \`deadline\` and \`identity\` features) forwards the same way and also does what every
  forward of Gatehouse's does for the origin: bounds the wait for its headers with Gatehouse's own \`src/edge/deadline.rs\`
  (30 s) and sends five headers of the sizes of Gatehouse's identity headers (docs/origin.md); \`tools/call\` and pinned only.

## Results

${table.join('\n')}

## Targets of issue 14 (medians above; the limit is the passthrough, the peer the baseline)

${targetsTable.join('\n')}

Reading the numbers (computed from the medians of this run):

${reading.join('\n')}

## Sequential D1 round trips (target 4)

Counted by Gatehouse's fault build (\`scripts/build.sh --faults\`, build-faults/, never deployed), which answers every request
with the number of round trips to D1 it awaited one after the other (a batch is one; src/edge/d1/faults.rs), over one MCP
client's first connection (bench/lib/round_trips.mjs): registration, a first authorization by password, the code exchange, a
refresh, a second client authorized by the owner already signed in, then MCP requests. At the edge each of these can cost tens
of milliseconds when the database's primary is far away; under Miniflare it is a fraction of one. tests/e2e/storage_faults.test.mjs
asserts the same limits.

${tripsTable.join('\n')}

## CPU during each load run (cores = CPU seconds per wall second)

${noisy ? `${noisy} of ${runs.length} runs had other processes above ${NOISY_SHARE * 100} % of the machine (marked noisy); treat their numbers with care.` : `No run had other processes above ${NOISY_SHARE * 100} % of the machine.`}
${badRuns ? `**${badRuns} runs had failed or wrong responses** (the "bad" count); their throughput counts good responses only.` : 'Every response in every run had the expected status (and, for `tools/call`, the echoed text).'}

${noise.join('\n')}
`;
  writeFileSync(file, md);
  return md;
}
