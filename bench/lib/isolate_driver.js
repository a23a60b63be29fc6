// The driver worker of bench/lib/isolates.mjs: every request names a worker (`kind`) and a
// sample (`id`); a new pair gets a new Worker from workerd's Worker Loader, with its own script
// load, wasm compile and instantiate, and the request is its first. The workers' code arrives
// as bindings: MANIFEST (JSON: kind -> { mainModule, compatibilityFlags, env, modules: { name:
// { js | wasm: binding name } } }) and one text or data binding per file.

/**
 * The code of one sample of one worker, marked with `tag` (the worker and the sample): V8 shares
 * a compiled wasm module between isolates when the bytes are the same, so without the mark a
 * sample would reuse what an earlier one compiled, and two workers with the same wasm each
 * other's. A wasm module gets a custom section, a JavaScript module a comment.
 */
function marked(bytes, tag) {
  const name = new TextEncoder().encode(tag);
  const payload = [...leb128(name.length), ...name];
  const section = [0, ...leb128(payload.length), ...payload];
  const out = new Uint8Array(bytes.byteLength + section.length);
  out.set(new Uint8Array(bytes), 0);
  out.set(section, bytes.byteLength);
  return out.buffer;
}

function leb128(n) {
  const out = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n);
  return out;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const kind = url.searchParams.get('kind');
    const id = url.searchParams.get('id');
    const spec = JSON.parse(env.MANIFEST)[kind];
    if (!spec || !id) return new Response('unknown kind or no id', { status: 400 });
    const worker = env.LOADER.get(`${kind}/${id}`, () => ({
      compatibilityDate: env.COMPATIBILITY_DATE,
      compatibilityFlags: spec.compatibilityFlags,
      mainModule: spec.mainModule,
      env: spec.env,
      modules: Object.fromEntries(Object.entries(spec.modules).map(([name, m]) => [name, m.js ? `${env[m.js]}\n// ${kind}/${id}\n` : { wasm: marked(env[m.wasm], `${kind}/${id}`) }])),
    }));
    return worker.getEntrypoint().fetch(new Request('http://127.0.0.1/mcp', request));
  },
};
