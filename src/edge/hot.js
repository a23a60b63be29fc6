// The JavaScript half of the `/mcp` hot path (edge/hot.rs says when it is taken and why it
// exists). Rust decides everything: what to send, to where, with which headers, and what the
// client gets back; this file only moves the request and the answer through the runtime's
// fetch, so that no Rust future, wasm-bindgen closure or per-field crossing is made for them.
// Header lists cross as one string of lines, name and value alternating: neither can hold a
// line break (Fetch, §Headers: a value is trimmed and may not contain CR or LF).

/** A `Headers` as lines (lower-case names; a repeated field once, comma-joined). */
export function headerLines(headers) {
  let lines = '';
  for (const [name, value] of headers) lines += name + '\n' + value + '\n';
  return lines;
}

/** `Headers` from lines: each field `set` in order (a later one of a name replaces an earlier), or `append`ed. */
function headersOf(lines, replace) {
  const headers = new Headers();
  const parts = lines.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    if (replace) headers.set(parts[i], parts[i + 1]);
    else headers.append(parts[i], parts[i + 1]);
  }
  return headers;
}

/**
 * Sends `request`'s body to `url` with the headers in `lines`, the wait for the answer's
 * headers bounded by `timeoutMs` (an open SSE stream's body is not: the timer ends when the
 * headers come). `answer(context, status, lines)` returns either the answer's header lines,
 * its body then being the origin's stream as is, or a whole `Response`; `failed(context, why,
 * error)` returns the `Response` for a fetch that failed: `why` is "timeout", "unreachable",
 * or "unusable" (the runtime refused the request before sending it).
 */
export function forward(request, url, timeoutMs, lines, context, answer, failed) {
  const controller = new AbortController();
  const timer = setTimeout(controller.abort.bind(controller), timeoutMs);
  const init = { method: request.method, headers: headersOf(lines, true), body: request.body, redirect: 'manual', signal: controller.signal };
  let sent;
  try {
    sent = fetch(url, init);
  } catch (error) {
    clearTimeout(timer);
    return Promise.resolve(failed(context, 'unusable', String(error)));
  }
  return sent.then(
    (origin) => {
      clearTimeout(timer);
      const out = answer(context, origin.status, headerLines(origin.headers));
      if (typeof out !== 'string') return out;
      return new Response(origin.body, { status: origin.status, headers: headersOf(out, false) });
    },
    (error) => {
      clearTimeout(timer);
      return failed(context, controller.signal.aborted ? 'timeout' : 'unreachable', String(error));
    },
  );
}
