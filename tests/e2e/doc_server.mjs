// The web as Gatehouse's metadata-document fetches see it in the e2e tests: the CIMD_FETCH
// service binding (fixtures/cimd-fetcher) forwards each request for https://<host>/<path> to
// this local server, naming the original host in `x-cimd-host`. Documents are served by
// `<host><path>`; each answer is { status, headers, body } or a function (req, res).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

/** The vendors whose documents Gatehouse pins, by their document URLs. */
export const VENDOR = {
  CLAUDE: 'https://claude.ai/oauth/mcp-oauth-client-metadata',
  CLAUDE_CODE: 'https://claude.ai/oauth/claude-code-client-metadata',
  CHATGPT: 'https://chatgpt.com/oauth/client.json',
  CODEX: 'https://chatgpt.com/oauth/codex/client.json',
  VSCODE: 'https://vscode.dev/oauth/client-metadata.json',
  OPENCODE: 'https://opencode.ai/oauth/opencode/client.json',
};

/** The pinned copies as Gatehouse ships them: the raw file text and its documents. */
export function pinnedDocuments() {
  const text = readFileSync(join(ROOT, 'src/protocol/cimd/pinned_documents.json'), 'utf8');
  return { text, documents: JSON.parse(text).documents };
}

/** The CIMD_FETCH fixture worker and its binding, for startHarness({ services, workers }). */
export function cimdFetcher(docServerBase) {
  return {
    services: [{ binding: 'CIMD_FETCH', service: 'cimd-fetcher' }],
    workers: [{ name: 'cimd-fetcher', main: join(ROOT, 'tests/e2e/fixtures/cimd-fetcher/index.mjs'), vars: { DOC_SERVER: docServerBase } }],
  };
}

/** Starts the document server; records every request it gets. */
export function startDocServer() {
  const docs = new Map();
  const requests = [];
  const held = [];
  const server = createServer((req, res) => {
    const host = req.headers['x-cimd-host'];
    requests.push({ host, path: req.url, accept: req.headers.accept, redirect: req.headers['x-cimd-redirect-mode'] });
    const doc = docs.get(`${host}${req.url}`);
    if (!doc) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such document');
    } else if (typeof doc === 'function') {
      doc(req, res);
    } else {
      const body = Buffer.from(doc.body ?? '');
      res.writeHead(doc.status ?? 200, { 'content-type': 'application/json', 'content-length': body.length, ...doc.headers });
      res.end(body);
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        base: `http://127.0.0.1:${server.address().port}`,
        /** Serves `doc` at the https URL `url`. */
        serve(url, doc) {
          const u = new URL(url);
          docs.set(`${u.host}${u.pathname}${u.search}`, doc);
        },
        /** Never answers requests for `url` (until close). */
        hang(url) {
          this.serve(url, (req, res) => held.push(res));
        },
        /** Answers requests for `url` with 200 and the start of a body, never its end (until close). */
        hangBody(url) {
          this.serve(url, (req, res) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.write('{"client_id": ');
            held.push(res);
          });
        },
        /** Requests for `url` (or for anything) so far. */
        count(url) {
          if (!url) return requests.length;
          const u = new URL(url);
          return requests.filter((r) => r.host === u.host && r.path === `${u.pathname}${u.search}`).length;
        },
        requests,
        close: () => {
          for (const res of held) res.destroy();
          return new Promise((r) => server.close(r));
        },
      });
    });
  });
}
