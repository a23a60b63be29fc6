// What a tool policy reads, end to end in workerd against the strict SDK v2 origin
// (tests/e2e/fixtures/origin-v2.mjs, which records every request it receives):
// - SEP-2243: headers that disagree with the body the policy decides on are refused with 400 and
//   JSON-RPC -32020 before the origin sees anything (issue 11);
// - bodies that readers read differently (lone surrogate, 1e400, deep nesting, an invalid UTF-8
//   byte, UTF-16, case-variant or repeated member names) are refused under a policy (issue 15,
//   item 1), and the same bytes are forwarded untouched without a policy, where the gateway does
//   not read the body at all (and the origin runs the denied tool where Node reads the body).
// Then the header hygiene that holds with or without a policy (limits on Mcp-* headers, CORS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.mjs';
import { manualFlow } from './oauth.mjs';

const MODERN = '2026-07-28';
const POLICY = JSON.stringify({ default: { deny: ['delete_*'] } });
const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: 'gatehouse-e2e-raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const b64 = (s) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;

let h;
let token;
let nextId = 100;

before(async () => {
  h = await startHarness({ name: 'policy-strict', origin: 'v2', vars: { TOOL_POLICY: POLICY } });
  const f = await manualFlow(h);
  assert.equal(f.token.status, 200, f.token.text);
  token = f.token.json.access_token;
});
after(async () => {
  await h?.stop();
});

/** A 2026-07-28 tools/call as JSON text; `args` is spliced in as raw JSON text. */
function call(name, { args = '{}', id = nextId++ } = {}) {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${args},"_meta":${JSON.stringify(META)}}}`;
}
const modernHeaders = (method, name) => ({ 'mcp-protocol-version': MODERN, 'mcp-method': method, ...(name === undefined ? {} : { 'mcp-name': name }) });

/** POSTs raw bytes to Gatehouse's /mcp with the token; returns status, text, JSON-RPC message. */
async function post(body, headers = {}, url = h.mcpUrl) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  const data = text.split('\n').find((l) => l.startsWith('data:'));
  let json;
  try {
    json = JSON.parse(data ? data.slice(5) : text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Runs `fn` and says whether the origin received anything meanwhile. */
async function originSaw(fn) {
  const before = (await h.seen()).length;
  const out = await fn();
  const seen = (await h.seen()).slice(before);
  return { out, seen };
}

async function assertRefusedUnseen(label, body, headers, { status = 400, code }) {
  const { out, seen } = await originSaw(() => post(body, headers));
  assert.equal(out.status, status, `${label}: ${out.text}`);
  assert.equal(out.json?.jsonrpc, '2.0', `${label}: a JSON-RPC error`);
  assert.equal(out.json.error.code, code, `${label}: ${out.text}`);
  assert.equal(seen.length, 0, `${label}: the origin must not see it`);
  return out;
}

// ---- SEP-2243 headers against the body, under the policy -----------------------------------

test('matching SEP-2243 headers pass the policy and reach the origin (positive control), plain and Base64', async () => {
  for (const name of ['echo', b64('echo')]) {
    const { out, seen } = await originSaw(() => post(call('echo', { args: '{"text":"ok"}' }), modernHeaders('tools/call', name)));
    assert.equal(out.status, 200, out.text);
    assert.equal(out.json.result.content[0].text, 'ok');
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers['mcp-name'], name, 'forwarded unchanged');
  }
});

test('body names an allowed tool, Mcp-Name a denied one (plain and Base64): 400 -32020, the origin never sees it', async () => {
  for (const name of ['delete_everything', b64('delete_everything')]) {
    const id = nextId++;
    const out = await assertRefusedUnseen(`Mcp-Name ${name}`, call('echo', { id, args: '{"text":"x"}' }), modernHeaders('tools/call', name), { code: -32020 });
    assert.equal(out.json.id, id, 'the request id is echoed');
    assert.match(out.json.error.message, /Mcp-Name/);
  }
});

test('body names a denied tool, Mcp-Name an allowed one (plain and Base64): 400 -32020, not a policy answer', async () => {
  for (const name of ['echo', b64('echo')]) {
    await assertRefusedUnseen(`Mcp-Name ${name}`, call('delete_everything'), modernHeaders('tools/call', name), { code: -32020 });
  }
  // An undecodable sentinel is a mismatch too.
  await assertRefusedUnseen('bad Base64', call('echo', { args: '{"text":"x"}' }), modernHeaders('tools/call', '=?base64?ZWNobw?='), { code: -32020 });
});

test('Mcp-Method against the body method: 400 -32020 either way', async () => {
  await assertRefusedUnseen('header tools/list, body tools/call', call('delete_everything'), modernHeaders('tools/list', 'delete_everything'), { code: -32020 });
  const list = `{"jsonrpc":"2.0","id":${nextId++},"method":"tools/list","params":{"_meta":${JSON.stringify(META)}}}`;
  await assertRefusedUnseen('header tools/call, body tools/list', list, modernHeaders('tools/call', 'echo'), { code: -32020 });
});

test('a 2026-07-28 call without its Mcp-Name or Mcp-Method header: 400 -32020 at the gateway', async () => {
  await assertRefusedUnseen('no Mcp-Name', call('echo', { args: '{"text":"x"}' }), modernHeaders('tools/call'), { code: -32020 });
  await assertRefusedUnseen('no Mcp-Method', call('echo', { args: '{"text":"x"}' }), { 'mcp-protocol-version': MODERN, 'mcp-name': 'echo' }, { code: -32020 });
});

test('the policy still answers a denied call whose headers match (200, -32602), without contacting the origin', async () => {
  await assertRefusedUnseen('denied tool', call('delete_everything'), modernHeaders('tools/call', 'delete_everything'), { status: 200, code: -32602 });
});

// ---- issue 15.1: bodies readers disagree on ----------------------------------------------------
// Sent as 2025-11-25 calls in a session (no SEP-2243 headers), so that only the body rules are at
// work, and so that on a gateway that forwards them the origin actually runs the tool.

let session; // headers of a 2025-11-25 session with the origin, opened through the gateway

async function openLegacySession() {
  const init = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'gatehouse-e2e-raw', version: '1' } } }));
  assert.equal(init.status, 200, init.text);
  const headers = { 'mcp-session-id': init.headers.get('mcp-session-id'), 'mcp-protocol-version': '2025-11-25' };
  assert.ok(headers['mcp-session-id']);
  const note = await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', headers);
  assert.equal(note.status, 202, note.text);
  return headers;
}

/** A 2025-11-25 tools/call as JSON text; `args` is spliced in as raw JSON text. */
const legacyCall = (name, args = '{}') => `{"jsonrpc":"2.0","id":${nextId++},"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${args}}}`;
const deep = (n) => `${'['.repeat(n)}1${']'.repeat(n)}`;
/** `text` as UTF-8 bytes with the (single-byte) `marker` replaced by `byte`. */
function withByte(text, marker, byte) {
  const bytes = Buffer.from(text);
  bytes[bytes.indexOf(marker)] = byte;
  return bytes;
}

/**
 * Each case: a call the policy must refuse, the status and JSON-RPC code it gets, and what the
 * origin (Node, the SDK v2) does with the same bytes when no policy reads them: `ran` is the text
 * of the tool's answer, `originCode` the origin's own JSON-RPC error.
 */
const BYPASSES = [
  { what: 'a lone surrogate escape', body: legacyCall('delete_everything', '{"x":"\\ud800"}'), code: -32700, ran: 'deleted' },
  { what: 'a number that overflows (1e400)', body: legacyCall('delete_everything', '{"x":1e400}'), code: -32700, ran: 'deleted' },
  { what: 'nesting deeper than 128', body: legacyCall('delete_everything', `{"x":${deep(200)}}`), code: -32700, ran: 'deleted' },
  { what: 'an invalid UTF-8 byte', body: withByte(legacyCall('delete_everything', '{"x":"a~b"}'), '~', 0xff), code: -32700, ran: 'deleted' },
  {
    what: 'a UTF-16LE body with charset=utf-16le',
    body: Buffer.from(legacyCall('delete_everything'), 'utf16le'),
    headers: { 'content-type': 'application/json; charset=utf-16le' },
    status: 415,
    code: -32000,
    originCode: -32700,
  },
  { what: 'a UTF-16LE body without a charset', body: Buffer.from(legacyCall('delete_everything'), 'utf16le'), code: -32700, originCode: -32700 },
  {
    what: 'case-variant member names (Go reads the last: "Name")',
    body: legacyCall('echo', '{"text":"hi"}').replace('"name":"echo"', '"name":"echo","Name":"delete_everything"'),
    code: -32600,
    ran: 'hi',
  },
  {
    what: 'a case-variant method ("Method": Go reads tools/call)',
    body: `{"jsonrpc":"2.0","id":${nextId++},"method":"tools/list","Method":"tools/call","params":{"name":"delete_everything"}}`,
    code: -32600,
    originCode: -32600, // the SDK refuses the message (its schema is strict); a Go origin would not
  },
  {
    what: 'a repeated member name (the gateway read the last, first-wins readers the first)',
    body: `{"jsonrpc":"2.0","id":${nextId++},"method":"tools/call","params":{"name":"delete_everything","arguments":{"text":"hi"},"name":"echo"}}`,
    code: -32700,
    ran: 'hi',
  },
];

for (const b of BYPASSES) {
  test(`with a policy, ${b.what} is refused (${b.status ?? 400}, ${b.code}) and never reaches the origin`, async () => {
    session ??= await openLegacySession();
    await assertRefusedUnseen(b.what, b.body, { ...session, ...(b.headers ?? {}) }, { status: b.status ?? 400, code: b.code });
  });
}

test('with a policy, a message body on PUT or DELETE (which the policy reads only on POST) is refused and never reaches the origin', async () => {
  session ??= await openLegacySession();
  for (const method of ['PUT', 'DELETE']) {
    const { out, seen } = await originSaw(async () => {
      const res = await fetch(h.mcpUrl, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...session },
        body: legacyCall('delete_everything'),
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, json: await res.json().catch(() => null) };
    });
    assert.equal(out.status, 400, method);
    assert.equal(out.json?.error?.code, -32600, method);
    assert.equal(seen.length, 0, `${method}: the origin must not see it`);
  }
});

// ---- the same bytes without a policy: forwarded untouched ----------------------------------

test('without a policy, each of those bodies is forwarded byte for byte and the origin answers it (runs the tool where Node reads it)', async () => {
  delete h.vars.TOOL_POLICY;
  await h.restart();
  session ??= await openLegacySession();
  for (const b of BYPASSES) {
    const bytes = Buffer.from(b.body);
    const { out, seen } = await originSaw(() => post(bytes, { ...session, ...(b.headers ?? {}) }));
    assert.equal(seen.length, 1, `${b.what}: reached the origin`);
    assert.ok(Buffer.from(seen[0].body, 'latin1').equals(bytes), `${b.what}: the exact bytes`);
    if (b.originCode !== undefined) {
      assert.equal(out.json?.error?.code, b.originCode, `${b.what}: the origin's own error: ${out.text}`);
    } else {
      assert.equal(out.json?.result?.content?.[0]?.text, b.ran, `${b.what}: ${out.text}`);
    }
  }
});

// ---- header hygiene, with or without a policy ------------------------------------------------

test('Mcp-* headers are bounded: 33 Mcp-Param-* headers or an 8 KiB value get 431 and never reach the origin', async () => {
  const body = call('echo', { args: '{"text":"x"}' });
  const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`mcp-param-p${i}`, 'v']));
  for (const [label, extra] of [['33 headers', many], ['a long value', { 'mcp-param-region': 'x'.repeat(8 * 1024 + 1) }]]) {
    const { out, seen } = await originSaw(() => post(body, { ...modernHeaders('tools/call', 'echo'), ...extra }));
    assert.equal(out.status, 431, `${label}: ${out.text}`);
    assert.equal(out.json.jsonrpc, '2.0');
    assert.equal(seen.length, 0, label);
  }
  const fits = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`mcp-param-p${i}`, 'v']));
  const { out, seen } = await originSaw(() => post(body, { ...modernHeaders('tools/call', 'echo'), ...fits, 'x-gatehouse-user': 'forged', 'mcp-paramx': 'no' }));
  assert.equal(out.status, 200, out.text);
  assert.equal(seen[0].headers['mcp-param-p31'], 'v', 'unknown Mcp-Param-* headers are forwarded');
  assert.notEqual(seen[0].headers['x-gatehouse-user'], 'forged');
  assert.equal(seen[0].headers['mcp-paramx'], undefined);
});

test('CORS preflight allows the SEP-2243 headers and the Mcp-Param-* names a browser asks for', async () => {
  const res = await fetch(h.mcpUrl, {
    method: 'OPTIONS',
    headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,mcp-protocol-version,mcp-method,mcp-name,mcp-param-region' },
  });
  assert.equal(res.status, 204);
  const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
  for (const name of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-param-region']) {
    assert.ok(allowed.includes(name), `${name} in ${allowed}`);
  }
});
