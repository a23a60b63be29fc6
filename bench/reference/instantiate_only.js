// For `npm run bench -- --quick --path=cold`: the passthrough with a worker-build
// output loaded beside it. Loading its index.js compiles and instantiates the wasm and runs the
// wasm-bindgen glue, but no request reaches its code, so a new isolate of this costs the module
// and its instantiation without the first request's work (bench/lib/isolates.mjs).
import './index.js';
import passthrough from './passthrough.js';

export default {
  fetch: (request, env, ctx) => passthrough.fetch(request, env, ctx),
};
