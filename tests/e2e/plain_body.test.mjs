// The request body on the plain forwarding path (no TOOL_POLICY), where Gatehouse does not read
// it: a body with a Content-Length within ORIGIN_MAX_BODY_BYTES is handed to the origin as the
// runtime's own stream (src/edge/proxy.rs), one without (chunked) is read with the limit checked.
// The forwarding suite runs with a tool policy, so its body tests take the reading path only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.mjs';
import { manualFlow, initializeBody, mcpPost, postChunked as postChunkedTo } from './oauth.mjs';

const MAX_BODY = 4096; // ORIGIN_MAX_BODY_BYTES for this worker
const PROTOCOL = { 'mcp-protocol-version': '2025-06-18' };

let h;
let s; // an open MCP session: { headers, post(msg) }

const call = (id, name, args = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** The JSON-RPC message with an id in an answer that is JSON or SSE. */
function answer(r) {
  if (!(r.headers.get('content-type') ?? '').startsWith('text/event-stream')) return r.json;
  const data = r.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
  return data.find((m) => m.id !== undefined);
}

const postChunked = (bytes) => postChunkedTo(h.mcpUrl, s.headers, bytes);

before(async () => {
  h = await startHarness({ name: 'plain-body', vars: { ORIGIN_MAX_BODY_BYTES: String(MAX_BODY) } });
  const f = await manualFlow(h);
  assert.equal(f.token.status, 200, f.token.text);
  const auth = { authorization: `Bearer ${f.token.json.access_token}` };
  const init = await mcpPost(h.mcpUrl, initializeBody(), auth);
  assert.equal(init.status, 200, init.text);
  const headers = { ...auth, ...PROTOCOL, 'mcp-session-id': init.headers.get('mcp-session-id') };
  const note = await mcpPost(h.mcpUrl, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  assert.equal(note.status, 202, note.text);
  s = { headers, post: (msg) => mcpPost(h.mcpUrl, msg, headers) };
});
after(async () => {
  await h?.stop();
});

test('without a tool policy, a body within the limit reaches the origin unchanged (multi-byte text, near the limit)', async () => {
  // UTF-8 of 1, 2, 3 and 4 bytes per character, and JSON escapes: any re-encoding would show.
  const text = `${'ä€😀"\\'.repeat(150)}${'z'.repeat(2000)}`;
  const body = JSON.stringify(call(1, 'echo', { text }));
  assert.ok(Buffer.byteLength(body) <= MAX_BODY && Buffer.byteLength(body) > MAX_BODY - 600, `body is ${Buffer.byteLength(body)} bytes`);
  const r = await s.post(JSON.parse(body));
  assert.equal(r.status, 200, r.text);
  assert.equal(answer(r).result.content[0].text, text);
});

test('without a tool policy, a body over the limit by Content-Length is refused with 413 and never reaches the origin', async () => {
  const before = (await h.seen()).length;
  const r = await s.post(call(2, 'echo', { text: 'x'.repeat(MAX_BODY) }));
  assert.equal(r.status, 413, r.text);
  assert.equal(r.json.jsonrpc, '2.0');
  assert.equal(r.json.error.code, -32000);
  assert.match(r.json.error.message, /too large: the gateway accepts at most 4096 bytes/);
  assert.equal((await h.seen()).length, before, 'nothing reached the origin');
});

test('without a tool policy, a chunked body is read with the limit: over it 413, within it forwarded', async () => {
  const before = (await h.seen()).length;
  const big = await postChunked(new TextEncoder().encode(JSON.stringify(call(3, 'echo', { text: 'x'.repeat(MAX_BODY) }))));
  assert.equal(big.status, 413, await big.clone().text());
  assert.equal((await big.json()).error.code, -32000);
  assert.equal((await h.seen()).length, before, 'nothing reached the origin');

  const small = await postChunked(new TextEncoder().encode(JSON.stringify(call(4, 'echo', { text: 'chunked ok' }))));
  assert.equal(small.status, 200);
  const text = await small.text();
  assert.match(text, /chunked ok/);
});
