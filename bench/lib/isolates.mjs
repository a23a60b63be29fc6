// Cold starts as new isolates in one running workerd (issue 14, target 5): workerd's Worker
// Loader (`workerLoaders`) creates a new Worker for every sample, so each sample is a script
// load, a wasm compile and instantiate and a first request, without a process start around
// them. A fresh workerd per sample (run.mjs `coldStarts`) adds ±40 ms of process and Miniflare
// start-up to every sample; here the samples of different workers differ by a few ms at most.
// The driver (isolate_driver.js) is the same for every worker, and so is its own cost.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { childPids, threadsCpuMs } from './cpu.mjs';

const DRIVER = join(dirname(fileURLToPath(import.meta.url)), 'isolate_driver.js');

/** A worker-build output directory (index.js and its wasm), as the loader takes it. */
export function builtWorker(dir, { compatibilityFlags = [], env }) {
  return { mainModule: 'index.js', compatibilityFlags, env, files: { 'index.js': { js: join(dir, 'index.js') }, 'index_bg.wasm': { wasm: join(dir, 'index_bg.wasm') } } };
}

/** One JavaScript module (the passthrough, the bundled baseline). */
export function scriptWorker(path, { compatibilityFlags = [], env }) {
  return { mainModule: 'worker.js', compatibilityFlags, env, files: { 'worker.js': { js: path } } };
}

/**
 * `workers`: key -> builtWorker / scriptWorker. `accept(key, status)` says whether a first
 * answer is the expected one. Each sample asks every worker (order rotated per sample) twice:
 * the first request meets a new isolate (cold), the second the same one (warm). Returns, per
 * key, { cold, coldCpu, warm, warmCpu } in ms: wall time as the client saw it, and the CPU
 * time of all of workerd's threads over the same request (schedstat).
 */
export async function coldIsolates(workers, { samples, compatibilityDate, body, accept, log = () => {} }) {
  const manifest = {};
  const textBlobBindings = {};
  const dataBlobBindings = {};
  let n = 0;
  for (const [key, w] of Object.entries(workers)) {
    const modules = {};
    for (const [name, f] of Object.entries(w.files)) {
      const binding = `FILE_${n++}`;
      if (f.js) textBlobBindings[binding] = f.js;
      else dataBlobBindings[binding] = new Uint8Array(readFileSync(f.wasm));
      modules[name] = f.js ? { js: binding } : { wasm: binding };
    }
    manifest[key] = { mainModule: w.mainModule, compatibilityFlags: w.compatibilityFlags, env: w.env, modules };
  }
  const before = new Set(childPids(process.pid, 'workerd'));
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: 0,
    cf: false,
    logRequests: false,
    handleStructuredLogs: () => {},
    modules: true,
    scriptPath: DRIVER,
    compatibilityDate,
    workerLoaders: { LOADER: {} },
    bindings: { MANIFEST: JSON.stringify(manifest), COMPATIBILITY_DATE: compatibilityDate },
    textBlobBindings,
    dataBlobBindings,
  }));
  try {
    const base = String(await mf.ready).replace(/\/$/, '');
    const pids = childPids(process.pid, 'workerd').filter((p) => !before.has(p));
    if (pids.length !== 1) throw new Error(`expected one new workerd process, found ${pids.length}`);
    const once = async (key, id) => {
      const c0 = threadsCpuMs(pids[0]);
      const t0 = performance.now();
      const res = await fetch(`${base}/?kind=${key}&id=${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body,
      });
      const text = await res.text();
      const ms = performance.now() - t0;
      const cpu = threadsCpuMs(pids[0]) - c0;
      if (!accept(key, res.status)) throw new Error(`new isolate of ${key}: first answer ${res.status} ${text.slice(0, 200)}`);
      return { ms, cpu };
    };
    const keys = Object.keys(workers);
    // The driver, the loader and the first isolate of the process warm up here, unmeasured.
    for (const k of keys) for (let i = 0; i < 2; i++) await once(k, 'warm-up');
    const out = Object.fromEntries(keys.map((k) => [k, { cold: [], coldCpu: [], warm: [], warmCpu: [] }]));
    for (let s = 0; s < samples; s++) {
      const order = keys.map((_, i) => keys[(i + s) % keys.length]);
      for (const k of order) {
        const cold = await once(k, s);
        const warm = await once(k, s);
        out[k].cold.push(cold.ms);
        out[k].coldCpu.push(cold.cpu);
        out[k].warm.push(warm.ms);
        out[k].warmCpu.push(warm.cpu);
      }
    }
    log(`new isolates (ms, cold): ${keys.map((k) => `${k} ${out[k].cold.map((x) => x.toFixed(1)).join(' ')}`).join('; ')}`);
    return out;
  } finally {
    await mf.dispose();
  }
}
