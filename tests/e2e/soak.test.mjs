// The soak's short version (issue 16 §1; the long one is `npm run soak`, scripts/soak.mjs):
// 20 OAuth flows at once with racing refreshes, a steady MCP load, and workerd killed and
// restarted once on the same local D1; then the invariants of tests/e2e/soak.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.mjs';
import { runSoak } from './soak.mjs';

let h;
before(async () => {
  h = await startHarness({ name: 'soak' });
});
after(async () => h?.stop());

test('20 concurrent flows with racing refreshes and a killed workerd lose and corrupt nothing', { timeout: 600_000 }, async (t) => {
  const report = await runSoak(h, { flows: 20, restarts: 1, steadySeconds: 15, refreshRace: 3 });
  t.diagnostic(JSON.stringify({ ...report, answersByKind: undefined }));
  t.diagnostic(JSON.stringify(report.answersByKind));
  assert.deepEqual(report.violations, []);
  assert.equal(report.flowsCompleted, 20);
  assert.equal(report.restarts.length, 1, 'workerd was killed and restarted');
  assert.ok(report.steadyCalls > 0);
  assert.ok(report.grantsInD1 >= 21, 'every flow wrote its grant');
});
