// The official Python MCP SDK client (tests/e2e/py_client.py, in the venv that
// scripts/setup.sh builds from tests/e2e/requirements.txt, path in $GATEHOUSE_VENV) runs the
// full OAuth flow against Gatehouse in workerd and calls tools through it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startHarness } from './harness.mjs';

const RUN_TIMEOUT_MS = 120_000;

function venvPython() {
  const venv = process.env.GATEHOUSE_VENV;
  assert.ok(venv, 'GATEHOUSE_VENV is not set: run the e2e tests through `npm test` (or `source scripts/env.sh`)');
  const python = join(venv, 'bin/python');
  assert.ok(existsSync(python), `no Python venv at ${venv}: run bash scripts/setup.sh`);
  return python;
}

function runPython(python, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

let h;
let result;

before(async () => {
  h = await startHarness({ name: 'py-client' });
});
after(async () => {
  await h?.stop();
});

test('Python SDK: OAuth flow (DCR, owner login + consent, PKCE) and tool calls through the gateway', async () => {
  const python = venvPython();
  const run = await runPython(python, [join(ROOT, 'tests/e2e/py_client.py'), h.mcpUrl], {
    GATEHOUSE_OWNER_PASSWORD: h.password,
  });
  const lastLine = run.stdout.trim().split('\n').pop();
  assert.equal(run.code, 0, `py_client.py failed (exit ${run.code ?? run.signal}):\n${run.stderr.slice(-4000)}\n${run.stdout.slice(-1000)}`);
  result = JSON.parse(lastLine);

  assert.equal(result.authorizations, 1, 'the SDK sent the owner to /authorize exactly once');
  const auth = new URL(result.authorization_url);
  assert.equal(`${auth.origin}${auth.pathname}`, `${h.base}/authorize`);
  assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(auth.searchParams.get('resource'), h.mcpUrl);
  const cb = new URL(result.callbacks[0]);
  assert.equal(`${cb.origin}${cb.pathname}`, 'http://127.0.0.1:47654/oauth/callback');
  assert.equal(cb.searchParams.get('state'), auth.searchParams.get('state'));
  assert.equal(cb.searchParams.get('iss'), h.base);

  assert.ok(result.client_id, 'registered a client');
  assert.ok(result.access_token, 'holds an access token');
  assert.ok(result.has_refresh_token, 'and a refresh token');
  assert.deepEqual(
    result.tools.filter((t) => ['add', 'echo', 'whoami'].includes(t)),
    ['add', 'echo', 'whoami'],
    `tools listed: ${result.tools}`,
  );
  assert.equal(result.echo, 'hello from python ✓');
  assert.equal(result.add, '42');
  assert.equal(result.echo_again, 'again', 'a second client over the stored tokens works without a new authorization');
});

test('Python SDK: the origin gets X-Gatehouse-User/-Client, never Authorization, Cookie or the token', async () => {
  assert.ok(result, 'needs the previous test');
  const claims = JSON.parse(Buffer.from(result.access_token.split('.')[1], 'base64url').toString('utf8'));
  assert.ok(result.whoami.user, 'X-Gatehouse-User is set');
  assert.equal(result.whoami.user, claims.sub, "X-Gatehouse-User is the token's subject");
  assert.equal(result.whoami.client, result.client_id, 'X-Gatehouse-Client is the registered client_id');
  assert.equal(result.whoami.authorization, false, 'no Authorization header reached the origin');
  assert.equal(result.whoami.cookie, false, "the client's Cookie header did not reach the origin");
  const seen = await h.seen();
  assert.ok(seen.length >= 3, `origin received the MCP traffic (${seen.length} requests)`);
  const sig = result.access_token.split('.').pop();
  for (const req of seen) {
    const everything = `${req.url}\n${JSON.stringify(req.headers)}`;
    assert.ok(!everything.includes(result.access_token), `token visible to the origin on ${req.method} ${req.url}`);
    assert.ok(!everything.includes(sig), `token signature visible to the origin on ${req.method} ${req.url}`);
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.headers.cookie, undefined);
  }
});
