// `npm run soak` (issue 16 §1): the soak of tests/e2e/soak.mjs at full size against the fresh
// build (build/), on 127.0.0.1: 200 OAuth flows at once with three racing refreshes per grant,
// a steady MCP load for a few minutes, workerd killed and restarted twice; then the invariants.
// Writes bench/SOAK.md and exits 1 if an invariant does not hold.
//   node scripts/soak.mjs [--flows N] [--restarts N] [--seconds S]   (scripts/soak.sh sets up first)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startHarness, ROOT } from '../tests/e2e/harness.mjs';
import { runSoak } from '../tests/e2e/soak.mjs';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '200' }, restarts: { type: 'string', default: '2' }, seconds: { type: 'string', default: '180' } } });
const opts = { flows: Number(values.flows), restarts: Number(values.restarts), steadySeconds: Number(values.seconds), refreshRace: 3, restartWindowMs: 20_000 };
const log = (m) => console.log(`[soak] ${m}`);

const h = await startHarness({ name: 'soak' });
let report;
try {
  log(`${opts.flows} flows, ${opts.restarts} kills, steady load for ${opts.steadySeconds} s (worker ${h.base})`);
  report = await runSoak(h, { ...opts, log });
} finally {
  await h.stop();
}
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
  '## workerd resident memory (kB), per process lifetime (sampled every second)',
  '',
  '| lifetime | samples | first | last | max |',
  '|---|---|---|---|---|',
  ...Object.entries(report.memoryKbBySegment).map(([s, m]) => `| ${Number(s) + 1} | ${m.samples} | ${m.first} | ${m.last} | ${m.max} |`),
  '',
  '## Invariants',
  '',
  report.violations.length ? report.violations.map((v) => `- VIOLATED: ${v}`).join('\n') : 'All held: no 5xx without Retry-After, no hang, every last token of every grant works, no code redeemed twice, no grant revoked without a reuse, nothing half-written in D1.',
  '',
];
writeFileSync(join(ROOT, 'bench/SOAK.md'), lines.join('\n'));
log(`written bench/SOAK.md; ${report.violations.length ? `${report.violations.length} violations` : 'every invariant held'}`);
process.exit(report.violations.length ? 1 : 0);
