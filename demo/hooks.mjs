// What the MCP origins run by the e2e tests share (demo/origin.mjs, and the SDK v2 origin in
// tests/e2e/fixtures/origin-v2.mjs): JSON answers, and the test hooks GET /__seen (the requests
// the origin received) and POST /__release (lets paused tools and stalled answers go on).

export function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Pauses until POST /__release or `ms`; resolves to whether it was released. */
export function untilReleased(waiting, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    waiting.push(() => { clearTimeout(timer); resolve(true); });
  });
}

/** Answers GET /__seen and POST /__release; returns whether `path` was one of them. */
export function answerHook(req, res, path, { seen, waiting }) {
  if (path === '/__seen' && req.method === 'GET') {
    sendJson(res, 200, seen);
    return true;
  }
  if (path === '/__release' && req.method === 'POST') {
    const n = waiting.length;
    waiting.splice(0).forEach((release) => release());
    sendJson(res, 200, { released: n });
    return true;
  }
  return false;
}
