// The web as seen through Gatehouse's CIMD_FETCH binding (tests/e2e/fixtures/cimd-fetcher):
// a local server answering for any https host, so metadata documents and key sets live at
// realistic URLs (https://client.example.com/...) while Gatehouse's URL rules run on those
// real URLs. Used by the CIMD and private_key_jwt suites.
import { createServer } from 'node:http';

/**
 * Documents by `<host><path>`, each an answer { status, headers, body } or a function
 * (req, res). Records every request it gets.
 */
export function startDocServer() {
  const docs = new Map();
  const requests = [];
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
        /** Requests for `url` (or for anything) so far. */
        count(url) {
          if (!url) return requests.length;
          const u = new URL(url);
          return requests.filter((r) => r.host === u.host && r.path === `${u.pathname}${u.search}`).length;
        },
        requests,
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}
