// The store conformance suite (src/store/conformance/) on D1 in workerd: the same cases the
// in-memory store passes natively (store/memory/mod.rs, memory_store_passes_the_conformance_suite),
// so the two stores cannot drift apart (issue 13). The test build (build-faults/, feature
// `test-faults`) serves GET /__test/conformance (the case names) and POST
// /__test/conformance/<case> (runs one on local D1); the committed build has neither.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startHarness, ROOT } from './harness.mjs';

const PATH = '/__test/conformance';

describe('store conformance on D1', { timeout: 300_000 }, () => {
  let h;
  let names = [];

  before(async () => {
    h = await startHarness({ name: 'conformance', buildDir: join(ROOT, 'build-faults') });
    const r = await fetch(`${h.base}${PATH}`);
    assert.equal(r.status, 200);
    names = await r.json();
  });
  after(async () => h?.stop());

  test('the committed build cannot run the suite; the test build lists every case', async () => {
    for (const wasm of ['dist/index_bg.wasm', 'build/index_bg.wasm']) {
      assert.ok(!readFileSync(join(ROOT, wasm)).includes(Buffer.from(PATH)), `${wasm} must not serve ${PATH}`);
    }
    assert.ok(names.length >= 16, `${names.length} cases`);
    for (const area of ['clients/', 'pending/', 'grants/', 'revoked_grants/', 'registrations/', 'consents/', 'upstream_states/', 'session_revocations/']) {
      assert.ok(names.some((n) => n.startsWith(area)), `cases for ${area}`);
    }
  });

  test('every case passes on D1', async (t) => {
    const failures = [];
    // Each run's ids are its own: the cases share the one local database.
    const prefix = `c-${randomBytes(4).toString('hex')}-`;
    for (const name of names) {
      const r = await fetch(`${h.base}${PATH}/${name}?prefix=${prefix}${encodeURIComponent(name)}-&now=${Math.floor(Date.now() / 1000)}`, { method: 'POST' });
      const body = await r.json();
      if (r.status !== 200 || body.ok !== true) failures.push(`${name}: ${r.status} ${body.error ?? JSON.stringify(body)}`);
    }
    assert.deepEqual(failures, [], failures.join('\n'));
    t.diagnostic(`${names.length} cases passed on D1`);
  });

  test('a failing case is reported, not passed: the same ids twice break the round trip', async () => {
    const url = `${h.base}${PATH}/clients/round_trip?prefix=twice-${randomBytes(4).toString('hex')}-`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 200);
    const again = await fetch(url, { method: 'POST' });
    const body = await again.json();
    assert.equal(again.status, 500, JSON.stringify(body));
    assert.equal(body.ok, false);
    assert.match(body.error, /storage error/);
  });

  test('an unknown case is a 404, not a pass', async () => {
    const r = await fetch(`${h.base}${PATH}/grants/no_such_case`, { method: 'POST' });
    assert.equal(r.status, 404);
  });
});
