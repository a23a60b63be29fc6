// `--quick --path=calls`: how many calls a wasm worker makes into JavaScript (the runtime's APIs
// through wasm-bindgen's glue) per request, for Gatehouse beside the Rust floors. A counting copy of
// a worker-build output wraps every import of its wasm module in a counter; every WINDOW fetches
// the worker writes the counts per fetch in one `console.warn` line, which the runner keeps
// (startMiniflare's log capture). The copy is slower than the build it counts: its counts are
// results, its timings are not.
import { cpSync, readFileSync, writeFileSync, rmSync } from 'node:fs';

export const WINDOW = 1000;
const MARK = 'GATEHOUSE_CALLS ';

/** Copies the worker-build output in `src` to `dest`, its `index.js` made to count (see above). */
export function countingCopy(src, dest) {
  rmSync(dest, { recursive: true, force: true });
  cpSync(src, dest, { recursive: true });
  let js = readFileSync(`${dest}/index.js`, 'utf8');
  const counters = `var __calls={},__labels={},__fetches=0;`
    + `function __counted(imports){for(const m of Object.keys(imports)){const o=imports[m];for(const k of Object.keys(o)){const f=o[k];`
    + `if(typeof f!=="function")continue;const s=String(f);__labels[k]=s.slice(s.indexOf("{")+1,s.lastIndexOf("}")).slice(0,60);`
    + `o[k]=function(...a){__calls[k]=(__calls[k]||0)+1;return f.apply(this,a)}}}return imports}`
    + `function __fetched(){if(++__fetches%${WINDOW}!==0)return;const r={};for(const k of Object.keys(__calls))r[k]=[__calls[k]/${WINDOW},__labels[k]];`
    + `console.warn(${JSON.stringify(MARK)}+JSON.stringify(r));__calls={}}\n`;
  let instances = 0;
  let entries = 0;
  // The module is instantiated at load and again after a panic; both get counted imports.
  js = js.replace(/new WebAssembly\.Instance\((\w+),(\w+)\(\)\)/g, (_, mod, imports) => {
    instances++;
    return `new WebAssembly.Instance(${mod},__counted(${imports}()))`;
  });
  // The entrypoint's fetch, as worker-build's shim calls the wasm export.
  js = js.replace(/(\w+)\.call\(this,e,this\.env,this\.ctx\)/, (_, f) => {
    entries++;
    return `(__fetched(),${f}.call(this,e,this.env,this.ctx))`;
  });
  if (instances < 1 || entries !== 1) {
    throw new Error(`${src}/index.js is not shaped as this counter expects (instantiations ${instances}, fetch entries ${entries}): worker-build changed?`);
  }
  // After the import declarations' first statement is fine: imports are hoisted.
  const at = js.indexOf('var ');
  writeFileSync(`${dest}/index.js`, js.slice(0, at) + counters + js.slice(at));
}

const countLines = (logs) => logs.kept.filter((l) => l.includes(MARK));

/** How many windows a worker has counted so far. */
export const countedWindows = (logs) => countLines(logs).length;

/** The last full window's counts from a worker's kept log lines: { name: [per fetch, label] }. */
export function lastCounts(name, logs) {
  const line = countLines(logs).at(-1);
  if (!line) throw new Error(`${name}: no call counts in its log (fewer than ${WINDOW} requests, or the log lines were dropped)`);
  return JSON.parse(line.slice(line.indexOf(MARK) + MARK.length));
}

/** A table of calls per request, one column per worker, the runtime's API in each row. */
export function callsTable(columns) {
  const names = new Map();
  for (const { counts } of columns) for (const [k, [, label]] of Object.entries(counts)) names.set(k, label);
  const per = (counts, k) => counts[k]?.[0] ?? 0;
  const rows = [...names].sort((a, b) => per(columns[0].counts, b[0]) - per(columns[0].counts, a[0]) || a[0].localeCompare(b[0]));
  const fmt = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  const out = [`| Import (the glue's body) | ${columns.map((c) => c.name).join(' | ')} |`, `|---|${columns.map(() => '---:').join('|')}|`];
  for (const [k, label] of rows) {
    out.push(`| \`${k.replace(/_[0-9a-f]{16}$/, '')}\`: \`${label.replace(/\|/g, '\\|')}\` | ${columns.map((c) => fmt(per(c.counts, k))).join(' | ')} |`);
  }
  const total = (counts) => Object.values(counts).reduce((s, [n]) => s + n, 0);
  out.push(`| **all calls into JavaScript** | ${columns.map((c) => `**${fmt(total(c.counts))}**`).join(' | ')} |`);
  return out.join('\n');
}
