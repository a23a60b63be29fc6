// A CPU profile of one worker while it serves load, through workerd's inspector (the Chrome
// DevTools protocol's `Profiler` domain, via Miniflare's inspector proxy). Used by
// `npm run bench -- --profile` to see where a gateway's CPU per request goes; the profile is
// written as a .cpuprofile (open it in Chrome DevTools) and summarised by self time.
import { writeFileSync } from 'node:fs';

/** Connects to the first worker the Miniflare inspector at `port` lists; returns { send, close }. */
export async function connectInspector(port) {
  const list = await fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json());
  const target = list[0]?.webSocketDebuggerUrl;
  if (!target) throw new Error(`no worker behind the inspector on port ${port}`);
  // Node 22 has no global WebSocket without a flag; `ws` comes with Miniflare.
  const WS = globalThis.WebSocket ?? (await import('ws')).default;
  const ws = new WS(target);
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = () => rej(new Error(`inspector connection to ${target} failed`));
  });
  let next = 1;
  const pending = new Map();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(String(ev.data));
    const p = msg.id && pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.rej(new Error(`${p.method}: ${msg.error.message}`));
    else p.res(msg.result);
  };
  const send = (method, params = {}) => new Promise((res, rej) => {
    const id = next++;
    pending.set(id, { res, rej, method });
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { send, close: () => ws.close() };
}

/**
 * Runs `work` with the profiler on (sampling every `intervalUs` µs); writes the profile to `file`;
 * returns the summary text.
 */
export async function profileDuring(port, file, work, top = 40, intervalUs = 100) {
  const insp = await connectInspector(port);
  try {
    await insp.send('Profiler.enable');
    await insp.send('Profiler.setSamplingInterval', { interval: intervalUs });
    await insp.send('Profiler.start');
    const result = await work();
    const { profile } = await insp.send('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    return { result, summary: summarise(profile, top) };
  } finally {
    insp.close();
  }
}

/** Self and total time per function name, as shares of the non-idle samples. */
export function summarise(profile, top) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const name = (n) => `${n.callFrame.functionName || '(anonymous)'}${n.callFrame.url ? ` ${n.callFrame.url.split('/').pop()}` : ''}`;
  const self = new Map();
  const total = new Map();
  let busy = 0;
  for (const [id, c] of counts) {
    const n = byId.get(id);
    const fn = name(n);
    if (fn.startsWith('(idle)')) continue;
    busy += c;
    self.set(fn, (self.get(fn) ?? 0) + c);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const f = name(byId.get(cur));
      if (seen.has(f)) continue;
      seen.add(f);
      total.set(f, (total.get(f) ?? 0) + c);
    }
  }
  const pct = (c) => `${((100 * c) / busy).toFixed(1).padStart(5)} %`;
  // "(program)" is time in workerd's own native code outside any JS or wasm frame.
  const lines = [`${busy} busy samples (idle excluded)`, 'self time:'];
  for (const [f, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(c)}  ${f}`);
  lines.push('total time (function and everything it called):');
  for (const [f, c] of [...total].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(c)}  ${f}`);
  return lines.join('\n');
}
