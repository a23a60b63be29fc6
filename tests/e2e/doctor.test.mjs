// `npm run doctor` against the real worker in workerd (the harness), healthy and with the
// faults owners actually make: the origin down, a PUBLIC_URL for another host, the well-known
// documents not reaching Gatehouse (a route for /mcp only), the origin's own URL pasted
// instead of Gatehouse's, a wrong owner password.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ROOT, startHarness } from './harness.mjs';

let h;
before(async () => {
  h = await startHarness({ name: 'doctor' });
});
after(async () => {
  await h?.stop();
});

/** Runs scripts/doctor.mjs; resolves { code, out } (never rejects on a non-zero exit). */
function doctor(url, { password, args = [] } = {}) {
  return new Promise((res) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts/doctor.mjs'), url, ...args],
      { cwd: ROOT, timeout: 120_000, env: { ...process.env, GATEHOUSE_OWNER_PASSWORD: password } },
      (err, stdout, stderr) => res({ code: err ? err.code : 0, out: `${stdout}\n${stderr}` }),
    );
  });
}

/** The line of check `name` and its fix (the next line), e.g. { status: 'FAIL', text, fix }. */
function check(out, name) {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^  (PASS|FAIL|WARN|SKIP)  ${name.replace(/[()]/g, '\\$&')}(:|$)`).test(l));
  assert.ok(i >= 0, `no line for "${name}" in:\n${out}`);
  const fix = /^\s+fix: (.*)$/.exec(lines[i + 1] ?? '')?.[1];
  return { status: lines[i].trim().split(/\s+/)[0], text: lines[i], fix };
}

const DISCOVERY = [
  '401 challenge', 'protected resource (path form)', 'protected resource (root form)', 'authorization server metadata', 'issuer',
  'iss advert', 'Client ID Metadata Documents', 'openid-configuration', 'CORS preflight', 'CORS on metadata', 'JWKS',
];

/**
 * A front on another port that passes requests to Gatehouse (those `route(path)` accepts; 404
 * for the rest) and lets `answer(headers)` edit the response headers: a stand-in for what sits
 * between clients and the Worker (a route pattern, a proxy). Resolves { url, close }.
 */
async function front({ route = () => true, answer = () => {} } = {}) {
  const server = createServer(async (req, res) => {
    if (!route(req.url)) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = { ...req.headers };
    delete headers.host;
    const r = await fetch(`${h.base}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined, redirect: 'manual' });
    const out = Object.fromEntries([...r.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding'].includes(k)));
    answer(out);
    res.writeHead(r.status, out).end(Buffer.from(await r.arrayBuffer()));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

test('a healthy deployment passes every check; with the owner password the origin answers through Gatehouse, and nothing is left behind', async () => {
  const plain = await doctor(h.mcpUrl);
  assert.equal(plain.code, 0, plain.out);
  for (const name of DISCOVERY) assert.equal(check(plain.out, name).status, 'PASS', `${name}\n${plain.out}`);
  assert.equal(check(plain.out, 'origin').status, 'SKIP');
  assert.match(check(plain.out, 'origin').text, /--sign-in/);

  const full = await doctor(h.base, { password: h.password }); // the bare host works too
  assert.equal(full.code, 0, full.out);
  assert.equal(check(full.out, 'sign-in').status, 'PASS');
  const origin = check(full.out, 'origin');
  assert.equal(origin.status, 'PASS', full.out);
  assert.match(origin.text, /gatehouse-demo-origin/);
  assert.match(origin.text, /echo/, 'the tools the origin lists');
  assert.match(full.out, /0 failed/);
  assert.ok(!full.out.includes(h.password), 'the password is never printed');
  // The doctor's grant is revoked at the end.
  const grants = await h.sql("SELECT g.revoked_at FROM grants g JOIN clients c ON c.client_id = g.client_id WHERE c.client_name = 'Gatehouse doctor'");
  assert.ok(grants.length >= 1);
  assert.ok(grants.every((g) => g.revoked_at !== null), JSON.stringify(grants));
});

test('the origin down: discovery passes, the origin check fails with what to look at', async () => {
  await h.stopOrigin();
  try {
    const r = await doctor(h.mcpUrl, { password: h.password });
    assert.equal(r.code, 1, r.out);
    for (const name of ['401 challenge', 'authorization server metadata', 'JWKS', 'sign-in']) assert.equal(check(r.out, name).status, 'PASS', r.out);
    const origin = check(r.out, 'origin');
    assert.equal(origin.status, 'FAIL');
    assert.match(origin.text, /could not get an answer from your MCP server \(HTTP 502/);
    assert.match(origin.fix, /tunnel/);
    assert.match(origin.fix, /ORIGIN_URL/);
    assert.match(origin.fix, /npm run logs/);
  } finally {
    await h.startOrigin();
  }
});

test('a wrong owner password is named as such', async () => {
  const r = await doctor(h.mcpUrl, { password: 'not the owner password' });
  assert.equal(r.code, 1, r.out);
  const s = check(r.out, 'sign-in');
  assert.equal(s.status, 'FAIL');
  assert.match(s.text, /password was refused/);
  assert.equal(check(r.out, 'origin').status, 'SKIP');
});

test("the well-known documents not on Gatehouse (a route for /mcp only): the metadata checks fail with the route fix", async () => {
  // As a Workers route pattern `host/mcp*` would: /mcp reaches Gatehouse, the rest does not.
  const f = await front({ route: (path) => path.startsWith('/mcp') });
  try {
    const r = await doctor(`${f.url}/mcp`);
    assert.equal(r.code, 1, r.out);
    for (const name of ['protected resource (path form)', 'protected resource (root form)']) {
      const c = check(r.out, name);
      assert.equal(c.status, 'FAIL', r.out);
      assert.match(c.text, /HTTP 404/);
      assert.match(c.fix, /route the whole host/);
    }
    const challenge = check(r.out, '401 challenge');
    assert.equal(challenge.status, 'FAIL', 'the challenge points at another host than the one connected to');
    assert.match(challenge.text, /resource_metadata is on http:\/\/127\.0\.0\.1:\d+, not on http:\/\/127\.0\.0\.1:\d+/);
  } finally {
    f.close();
  }
});

test("a server clock far from this computer's (the Date header) is a warning with the fix", async () => {
  const ok = await doctor(h.mcpUrl);
  // wrangler dev sends no Date header; Cloudflare's edge always does.
  assert.ok(['PASS', 'SKIP'].includes(check(ok.out, 'clock').status), ok.out);
  const f = await front({ answer: (headers) => { headers.date = new Date(Date.now() - 300_000).toUTCString(); } });
  try {
    const r = await doctor(`${f.url}/mcp`);
    const c = check(r.out, 'clock');
    assert.equal(c.status, 'WARN', r.out);
    assert.match(c.text, /clock is (29\d|30\d) s ahead of the server's/);
    assert.match(c.fix, /NTP/);
  } finally {
    f.close();
  }
});

test("the origin's own URL pasted instead of Gatehouse's is recognised", async () => {
  const r = await doctor(h.originMcpUrl);
  assert.equal(r.code, 1, r.out);
  const c = check(r.out, '401 challenge');
  assert.equal(c.status, 'FAIL');
  assert.match(c.text, /without any token: this is not Gatehouse/);
  assert.match(c.fix, /lock the origin/);
});

test('a PUBLIC_URL for another host: the challenge, the resource and the issuer fail, each naming PUBLIC_URL', async () => {
  await h.restart({ vars: { PUBLIC_URL: 'https://gatehouse.example.net' } });
  try {
    const r = await doctor(h.mcpUrl);
    assert.equal(r.code, 1, r.out);
    for (const name of ['401 challenge', 'protected resource (path form)', 'protected resource (root form)', 'issuer']) {
      const c = check(r.out, name);
      assert.equal(c.status, 'FAIL', `${name}\n${r.out}`);
      assert.match(c.fix, /PUBLIC_URL/);
      assert.match(c.fix, /--public-url/);
    }
    assert.match(check(r.out, 'issuer').text, /the issuer is https:\/\/gatehouse\.example\.net/);
  } finally {
    await h.restart({ vars: {} });
  }
});
