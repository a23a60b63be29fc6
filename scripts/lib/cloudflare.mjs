// Shared by scripts/deploy.mjs and scripts/rotate-key.mjs: running wrangler without ever
// putting a secret on a command line, and the checks both scripts make against Cloudflare
// before they change anything.
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, openSync, readSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ROOT, Stop, say, warn } from './cli.mjs';

/** How long an owner login lasts (src/identity/browser_session.rs SESSION_TTL). */
export const SESSION_TTL_SECONDS = 8 * 3600;
export const DEFAULT_ACCESS_TOKEN_TTL = 3600;

/** A 32-byte Ed25519 seed, base64url without padding (what SIGNING_KEY holds). */
export const newSigningKey = () => randomBytes(32).toString('base64url');

/**
 * The `kid` the worker gives a seed's key (src/base/signing_key.rs): base64url of the first
 * 12 bytes of SHA-256 over the Ed25519 public key. Public, so it may be logged.
 */
export function keyId(seed) {
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed, 'base64url')]);
  const x = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x;
  return createHash('sha256').update(Buffer.from(x, 'base64url')).digest().subarray(0, 12).toString('base64url');
}

/**
 * Writes a key-rotation event into the deployed audit log (the admin page shows it). The
 * values are key names and ids (never key material), checked against a strict alphabet before
 * they reach the SQL. A failure only warns: the rotation itself has already happened.
 */
export function auditKeyEvent(configPath, action, detail) {
  const fields = Object.entries(detail).map(([k, v]) => {
    if (!/^[a-z_]+$/.test(k) || !/^[A-Za-z0-9_ -]*$/.test(v)) throw new Error(`audit detail ${k} is not a plain name`);
    return `'${k}', '${v}'`;
  });
  const sql = `INSERT INTO audit_events (at, event, detail) VALUES (unixepoch(), 'key.${action}', json_object(${fields.join(', ')}))`;
  const r = wrangler(['d1', 'execute', 'DB', '--remote', '--command', sql], { configPath });
  if (r.status !== 0) warn(`could not write the key.${action} audit event (the rotation itself is done)`);
}

/**
 * The wrangler to run: $GATEHOUSE_WRANGLER, else `wrangler` on PATH (under `npm run`, the
 * project's own comes first there), else the project's own. The first two let tests (and
 * people) substitute another one. A PATH entry is followed to its real file, so that npm's bin
 * link resolves to wrangler's Node script. On Windows, PATH holds npm's `.cmd` wrappers, which
 * need a shell: the project's wrangler is run directly instead.
 */
export function findWrangler() {
  if (process.env.GATEHOUSE_WRANGLER) return process.env.GATEHOUSE_WRANGLER;
  if (process.platform !== 'win32') {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, 'wrangler'), constants.X_OK);
        return realpathSync(join(dir, 'wrangler'));
      } catch {
        /* not here */
      }
    }
  }
  return join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
}

/**
 * How to start `bin`: a Node script (a `.js`/`.mjs` file or a `#!…node` one, as npm's bin
 * links are) runs under this very Node, so nothing else is looked up on PATH (no `env`, no
 * shell, no `.cmd` wrapper on Windows).
 */
export function commandFor(bin) {
  if (/\.[cm]?js$/.test(bin)) return [process.execPath, [bin]];
  try {
    const fd = openSync(bin, 'r');
    const head = Buffer.alloc(128);
    const n = readSync(fd, head, 0, 128, 0);
    closeSync(fd);
    const first = head.subarray(0, n).toString('utf8').split('\n')[0];
    if (first.startsWith('#!') && /\bnode\b/.test(first)) return [process.execPath, [realpathSync(bin)]];
  } catch {
    /* not readable: let spawn report it */
  }
  return [bin, []];
}

/** Unattended wrangler: no telemetry unless the owner asked for it. */
export function wranglerEnv(extra = {}) {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? 'false',
    WRANGLER_SEND_ERROR_REPORTS: process.env.WRANGLER_SEND_ERROR_REPORTS ?? 'false',
    ...extra,
  };
}

/**
 * Runs wrangler against `configPath` (in `cwd`, default the config's directory). Secrets go
 * only through `input` (stdin), never argv. `live`: let wrangler print to the terminal (long
 * steps the owner should see); otherwise its output is captured and returned. stdin is never
 * a terminal, so wrangler takes its non-interactive defaults; the scripts ask their own
 * questions.
 */
export function wrangler(args, { configPath, cwd, input, live = false } = {}) {
  const bin = findWrangler();
  const [cmd, pre] = commandFor(bin);
  const full = [...args, '--config', configPath];
  if (live) say(`\n$ wrangler ${full.join(' ')}`);
  const r = spawnSync(cmd, [...pre, ...full], {
    cwd: cwd ?? dirname(configPath),
    input: input ?? '',
    stdio: ['pipe', live ? 'inherit' : 'pipe', live ? 'inherit' : 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: wranglerEnv(),
  });
  if (r.error) throw new Stop(`could not run wrangler (${bin}): ${r.error.message}`);
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Like wrangler(), but a failure stops the script with wrangler's own message. */
export function mustWrangler(args, opts) {
  const r = wrangler(args, opts);
  if (r.status !== 0) {
    const detail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-12).join('\n');
    throw new Stop(`\`wrangler ${args.join(' ')}\` failed (exit ${r.status})${detail ? `:\n${detail}` : ''}`);
  }
  return r;
}

/** The JSON in wrangler's output (it may print a banner or warnings around it). */
export function parseJsonOutput(text) {
  const start = text.search(/^[[{]/m);
  if (start < 0) return undefined;
  const end = text.lastIndexOf(text[start] === '[' ? ']' : '}');
  try {
    return JSON.parse(text.slice(start, end + 1));
  } catch {
    return undefined;
  }
}

/**
 * Stops unless wrangler is logged in (and, with several accounts, one is chosen: $CLOUDFLARE_ACCOUNT_ID
 * or `accountId` from the settings); returns the account list. Runs before any change.
 */
export function requireLogin(configPath, accountId) {
  const r = wrangler(['whoami', '--json'], { configPath });
  const who = parseJsonOutput(r.stdout);
  if (r.status !== 0 || !who?.loggedIn) {
    throw new Stop(
      'You are not logged in to Cloudflare, so nothing was changed.\n' +
        '  Log in with `npx wrangler login` (or set CLOUDFLARE_API_TOKEN for CI), then run this again.',
    );
  }
  const accounts = Array.isArray(who.accounts) ? who.accounts : [];
  const chosen = process.env.CLOUDFLARE_ACCOUNT_ID || accountId;
  if (accounts.length > 1 && !chosen) {
    const list = accounts.map((a) => `  ${a.id}  ${a.name}`).join('\n');
    throw new Stop(
      `Your Cloudflare login can use ${accounts.length} accounts; say which one (nothing was changed):\n${list}\n` +
        '  e.g. CLOUDFLARE_ACCOUNT_ID=<id> npm run deploy',
    );
  }
  say(`Cloudflare: logged in as ${who.email ?? 'an API token'}`);
  return accounts;
}

/** Names of the Worker's secrets; [] when the Worker does not exist yet (first deploy). */
export function secretNames(configPath) {
  const r = wrangler(['secret', 'list', '--format', 'json'], { configPath });
  if (r.status !== 0) {
    const text = `${r.stdout}\n${r.stderr}`.trim();
    if (/not found|does not exist/i.test(text)) return { names: [], workerExists: false };
    throw new Stop(`\`wrangler secret list\` failed (exit ${r.status}):\n${text.split('\n').slice(-12).join('\n')}`);
  }
  const list = parseJsonOutput(r.stdout);
  if (!Array.isArray(list)) throw new Stop('`wrangler secret list --format json` did not print a JSON list');
  return { names: list.map((s) => s.name), workerExists: true };
}

/** Sets a secret; the value goes on wrangler's stdin only. */
export function putSecret(configPath, name, value) {
  say(`Setting secret ${name}`);
  mustWrangler(['secret', 'put', name], { configPath, input: value });
}

/** `SIGNING_KEYS` from [vars]: names of the key secrets, newest first. */
export function signingKeyNames(raw) {
  const v = raw.vars?.SIGNING_KEYS;
  const names = typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : [];
  return names.length ? names : ['SIGNING_KEY'];
}

export function accessTokenTtl(raw) {
  const n = Number.parseInt(raw.vars?.ACCESS_TOKEN_TTL ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_ACCESS_TOKEN_TTL;
}

export function humanDuration(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
