// Demo MCP origin server: what Gatehouse forwards to in `npm run dev` and in the e2e tests.
// A real MCP server (the official TypeScript SDK, Streamable HTTP with stateful sessions)
// on 127.0.0.1:$PORT (default 8788), endpoint /mcp (POST, GET for the SSE stream, DELETE).
// Tools: echo, add, whoami, countdown (progress notifications over SSE), broadcast (a log
// message on the standalone GET stream). For the tests it records the headers of every request
// it receives and serves them at GET /__seen (on the origin itself; Gatehouse does not proxy it).
// A session whose initialize names a client containing "json-response" gets plain JSON answers
// instead of SSE. POST /__next {stall} | {status, contentType, body, headers} shapes the answer
// to the next /mcp request (stall: no answer until POST /__release or 20 s), for the tests.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { answerHook, sendJson, untilReleased } from './hooks.mjs';

const port = Number(process.env.PORT || 8788);
const seen = []; // { method, url, headers } of every request, oldest first
// `npm run bench` sends hundreds of thousands of requests: recording them would only grow memory.
const record = process.env.DEMO_ORIGIN_RECORD !== '0';
const sessions = new Map(); // Mcp-Session-Id -> transport

const waiting = []; // `countdown` calls (and stalled requests) paused until POST /__release
let next = null; // the shaped answer for the next /mcp request (POST /__next)
const text = (value) => ({ content: [{ type: 'text', text: String(value) }] });

function newServer() {
  const server = new McpServer({ name: 'gatehouse-demo-origin', version: '0.1.0' }, { capabilities: { logging: {} } });
  server.registerTool('echo', {
    description: 'Returns its text unchanged',
    inputSchema: { text: z.string() },
  }, async ({ text: t }) => text(t));
  server.registerTool('add', {
    description: 'Adds two numbers',
    inputSchema: { a: z.number(), b: z.number() },
  }, async ({ a, b }) => text(a + b));
  server.registerTool('whoami', {
    description: 'What the gateway told the origin about the caller',
  }, async (extra) => {
    const h = extra.requestInfo?.headers ?? {};
    return text(JSON.stringify({
      user: h['x-gatehouse-user'] ?? null,
      client: h['x-gatehouse-client'] ?? null,
      authorization: 'authorization' in h,
      cookie: 'cookie' in h,
    }));
  });
  server.registerTool('countdown', {
    description: 'Sends `steps` progress notifications over SSE. After the first it pauses until '
      + 'POST /__release on the origin (a test hook) or 10 s, so a test can prove the first event '
      + 'reached the client before the rest were produced.',
    inputSchema: { steps: z.number().int().min(2).max(10) },
  }, async ({ steps }, extra) => {
    const token = extra._meta?.progressToken;
    const progress = (n) => token === undefined ? Promise.resolve()
      : extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: n, total: steps } });
    await progress(1);
    const released = await untilReleased(waiting, 10_000);
    for (let n = 2; n <= steps; n++) await progress(n);
    return text(JSON.stringify({ released }));
  });
  server.registerTool('broadcast', {
    description: 'Sends its text as a log message not tied to this request, i.e. on the standalone GET /mcp stream',
    inputSchema: { text: z.string() },
  }, async ({ text: t }) => {
    await server.sendLoggingMessage({ level: 'info', data: t });
    return text('sent');
  });
  return server;
}

const rpcError = (res, status, code, message) =>
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function handleMcp(req, res) {
  const sid = req.headers['mcp-session-id'];
  const existing = sid ? sessions.get(sid) : undefined;
  if (sid && !existing) return rpcError(res, 404, -32001, 'Session not found');
  if (req.method !== 'POST') {
    if (!existing) return rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header required');
    return existing.handleRequest(req, res);
  }
  let body;
  try { body = await readJson(req); } catch { return rpcError(res, 400, -32700, 'Parse error'); }
  if (existing) return existing.handleRequest(req, res, body);
  if (!isInitializeRequest(body)) return rpcError(res, 400, -32000, 'Bad Request: no valid session ID');
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: String(body.params?.clientInfo?.name ?? '').includes('json-response'),
    onsessioninitialized: (id) => sessions.set(id, transport),
  });
  transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
  await newServer().connect(transport);
  await transport.handleRequest(req, res, body);
}

const httpServer = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://origin').pathname;
  try {
    if (answerHook(req, res, path, { seen, waiting })) return;
    if (path === '/__next' && req.method === 'POST') {
      next = await readJson(req);
      return sendJson(res, 200, { next });
    }
    if (record) seen.push({ method: req.method, url: req.url, headers: req.headers });
    if (path === '/mcp' && next) {
      const shaped = next;
      next = null;
      if (shaped.stall) {
        await untilReleased(waiting, 20_000);
        if (!res.destroyed) rpcError(res, 503, -32000, 'stalled');
        return;
      }
      res.writeHead(shaped.status, { 'content-type': shaped.contentType ?? 'text/plain', ...(shaped.headers ?? {}) });
      return res.end(shaped.body ?? '');
    }
    if (path === '/mcp' && ['GET', 'POST', 'DELETE'].includes(req.method)) return await handleMcp(req, res);
    sendJson(res, 404, { error: 'not found' });
  } catch (err) {
    console.error('demo origin: error handling request:', err);
    if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error');
    else res.end();
  }
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`demo origin listening on http://127.0.0.1:${httpServer.address().port}/mcp`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const t of sessions.values()) t.close().catch(() => {});
    httpServer.close();
    httpServer.closeAllConnections();
    process.exit(0);
  });
}
