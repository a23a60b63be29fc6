#!/usr/bin/env node
// `npm run logs`: follows the deployed Worker's logs live (`wrangler tail --format json`) and
// prints one readable line per thing Gatehouse logged: its request lines (route, status, time,
// client), audit events, configuration errors, the hourly cleanup, exceptions. Paths and query
// strings of the requests are never printed (a query can carry an authorization code).
//   npm run logs                      everything
//   npm run logs -- --status error    wrangler tail's own filters pass through (--status,
//                                     --method, --search, --ip, --sampling-rate…)
//   npm run logs -- --raw             wrangler's JSON as it comes
// Stored logs (Workers Logs, `observability` in wrangler.toml): the dashboard, Workers &
// Pages > gatehouse > Logs.
import { spawn } from 'node:child_process';
import { Stop, ensureDependencies, requireNode, runMain, say } from './lib/cli.mjs';
import { commandFor, findWrangler, wranglerEnv } from './lib/cloudflare.mjs';
import { installation, readSettings, renderConfig } from './lib/install.mjs';

/**
 * Splits a stream of concatenated JSON objects (wrangler prints each event as indented JSON)
 * into whole objects; text between objects (wrangler's banners) goes to `onOther`.
 */
class JsonObjects {
  buf = '';
  pos = 0; // next character to look at
  depth = 0;
  inString = false;
  escaped = false;
  constructor(onObject, onOther) {
    this.onObject = onObject;
    this.onOther = onOther;
  }
  push(text) {
    this.buf += text;
    for (; this.pos < this.buf.length; this.pos++) {
      const ch = this.buf[this.pos];
      if (this.depth === 0) {
        if (ch !== '{') continue;
        const before = this.buf.slice(0, this.pos).trim();
        if (before) this.onOther(before);
        this.buf = this.buf.slice(this.pos);
        this.pos = 0;
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
      } else if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if ((ch === '}' || ch === ']') && --this.depth === 0) {
        const whole = this.buf.slice(0, this.pos + 1);
        this.buf = this.buf.slice(this.pos + 1);
        this.pos = -1;
        try {
          this.onObject(JSON.parse(whole));
        } catch {
          this.onOther(whole);
        }
      }
    }
    if (this.depth === 0) {
      // Whole lines of text outside any object are banners; keep a partial line for later.
      const nl = this.buf.lastIndexOf('\n');
      if (nl >= 0) {
        if (this.buf.slice(0, nl).trim()) this.onOther(this.buf.slice(0, nl).trim());
        this.buf = this.buf.slice(nl + 1);
        this.pos = this.buf.length;
      }
    }
  }
}

const time = (ms) => (Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 19) : '--:--:--');
const fields = (o, skip) => Object.entries(o).filter(([k, v]) => !skip.includes(k) && v !== null && v !== undefined)
  .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');

/** One line for a message Gatehouse logged (a JSON object as text), else the text itself. */
function formatMessage(message, level) {
  let m;
  try {
    m = typeof message === 'string' ? JSON.parse(message) : message;
  } catch {
    /* plain text */
  }
  const err = level === 'error' ? 'ERROR ' : '';
  if (!m || typeof m !== 'object' || Array.isArray(m)) return `${err}${String(message)}`;
  if (m.route && m.status !== undefined) {
    return `${err}${String(m.method ?? '').padEnd(6)} ${String(m.route).padEnd(22)} ${m.status}  ${m.ms ?? '?'} ms${m.client_id ? `  client ${m.client_id}` : ''}`;
  }
  if (m.audit) return `${err}audit  ${m.audit}  ${fields(m, ['audit'])}`;
  if (m.event === 'config_error') return `ERROR  configuration: ${m.variable} ${m.problem}  (fix it, then npm run deploy; docs/configuration.md)`;
  if (m.event === 'cleanup') {
    const removed = Object.entries(m.removed ?? {}).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ');
    return `cleanup (cron ${m.cron}): removed ${removed || 'nothing'}`;
  }
  if (m.event) return `${err}${m.event}  ${fields(m, ['event'])}`;
  return `${err}${JSON.stringify(m)}`;
}

/** The lines for one tail event (TailEventMessage: outcome, logs, exceptions, event). */
function formatEvent(e) {
  const lines = [];
  const when = time(e.eventTimestamp);
  const ev = e.event ?? {};
  let path = '';
  try {
    if (ev.request?.url) path = new URL(ev.request.url).pathname; // never the query string
  } catch {
    /* not a URL */
  }
  for (const log of e.logs ?? []) {
    const msg = (log.message ?? []).map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
    lines.push(`${time(log.timestamp ?? e.eventTimestamp)}  ${formatMessage(msg.length === 1 ? msg[0] : msg.join(' '), log.level)}`);
  }
  if (ev.cron !== undefined && !(e.logs ?? []).length) lines.push(`${when}  cron ${ev.cron}: ${e.outcome}`);
  if (e.outcome && e.outcome !== 'ok') {
    const what = ev.request ? `${ev.request.method ?? ''} ${path}`.trim() : ev.cron !== undefined ? `cron ${ev.cron}` : 'event';
    lines.push(`${when}  !! ${what}: outcome ${e.outcome}`);
  }
  for (const x of e.exceptions ?? []) lines.push(`${when}  !! ${x.name}: ${typeof x.message === 'string' ? x.message : JSON.stringify(x.message)}`);
  if (!lines.length && ev.request) lines.push(`${when}  ${ev.request.method ?? ''} ${path}  ${ev.response?.status ?? ''}`.trimEnd());
  return lines;
}

async function main() {
  requireNode();
  ensureDependencies();
  const argv = process.argv.slice(2);
  let raw = false;
  let config;
  const pass = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--raw') raw = true;
    else if (argv[i] === '--config') config = argv[++i];
    else if (argv[i] === '--help' || argv[i] === '-h') {
      say('Usage: npm run logs -- [--raw] [wrangler tail filters: --status ok|error|canceled, --method, --search, --ip, --sampling-rate]');
      return;
    } else if (argv[i] === '--format') throw new Stop('--format is chosen by npm run logs (use --raw for JSON)');
    else pass.push(argv[i]);
  }
  const inst = installation(config);
  const { path: configPath } = renderConfig(inst, readSettings(inst));
  const [cmd, pre] = commandFor(findWrangler());
  const child = spawn(cmd, [...pre, 'tail', '--format', 'json', ...pass, '--config', configPath], { cwd: inst.dir, env: wranglerEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const splitter = new JsonObjects(
    (event) => {
      if (raw) say(JSON.stringify(event));
      else for (const line of formatEvent(event)) say(line);
    },
    (text) => process.stderr.write(`${text}\n`),
  );
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => splitter.push(chunk));
  const stop = () => child.kill('SIGINT');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await new Promise((res) => child.once('exit', (c) => res(c ?? 0)));
  if (code !== 0) throw new Stop(`wrangler tail ended with exit code ${code} (logged in? npx wrangler login)`);
}

runMain(main);
