// For `npm run bench -- --quick --path=cold`: the passthrough with a wasm module that workerd
// compiles at script load but nothing instantiates or calls, so a new isolate of it costs the
// module's compilation and none of its code (bench/lib/isolates.mjs).
import unused from './index_bg.wasm';
import passthrough from './passthrough.js';

void unused;

export default {
  fetch: (request, env, ctx) => passthrough.fetch(request, env, ctx),
};
