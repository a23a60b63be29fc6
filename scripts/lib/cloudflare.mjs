// Shared by scripts/deploy.mjs and scripts/rotate-key.mjs: running wrangler without ever
// putting a secret on a command line, reading and editing wrangler.toml in place (comments
// kept), and the checks both scripts make before they change anything.
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const PLACEHOLDER_DB_ID = '00000000-0000-0000-0000-000000000000';
/** How long an owner login lasts (src/oauth/session.rs SESSION_TTL). */
export const SESSION_TTL_SECONDS = 8 * 3600;
export const DEFAULT_ACCESS_TOKEN_TTL = 3600;

export class Stop extends Error {}
export const say = (msg = '') => process.stdout.write(`${msg}\n`);
export const warn = (msg) => process.stderr.write(`[gatehouse] warning: ${msg}\n`);

/** A 32-byte Ed25519 seed, base64url without padding (what SIGNING_KEY holds). */
export const newSigningKey = () => randomBytes(32).toString('base64url');

/**
 * The `kid` the worker gives a seed's key (src/oauth/access_token.rs): base64url of the first
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
 * The wrangler to run: $GATEHOUSE_WRANGLER, else `wrangler` on PATH, else the project's own
 * (node_modules/.bin). The first two let tests (and people) substitute another one.
 */
export function findWrangler() {
  if (process.env.GATEHOUSE_WRANGLER) return process.env.GATEHOUSE_WRANGLER;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, 'wrangler'), constants.X_OK);
      return join(dir, 'wrangler');
    } catch {
      /* not here */
    }
  }
  return join(ROOT, 'node_modules/.bin/wrangler');
}

/**
 * Runs wrangler against `configPath`. Secrets go only through `input` (stdin), never argv.
 * `live`: let wrangler print to the terminal (long steps the owner should see); otherwise
 * its output is captured and returned. stdin is never a terminal, so wrangler takes its
 * non-interactive defaults; this script asks its own questions.
 */
export function wrangler(args, { configPath, input, live = false } = {}) {
  const bin = findWrangler();
  const full = [...args, '--config', configPath];
  if (live) say(`\n$ wrangler ${full.join(' ')}`);
  const r = spawnSync(bin, full, {
    cwd: dirname(configPath),
    input: input ?? '',
    stdio: ['pipe', live ? 'inherit' : 'pipe', live ? 'inherit' : 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
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

/** Stops unless wrangler is logged in; returns the account list. Runs before any change. */
export function requireLogin(configPath) {
  const r = wrangler(['whoami', '--json'], { configPath });
  const who = parseJsonOutput(r.stdout);
  if (r.status !== 0 || !who?.loggedIn) {
    throw new Stop(
      'You are not logged in to Cloudflare, so nothing was changed.\n' +
        '  Log in with `npx wrangler login` (or set CLOUDFLARE_API_TOKEN for CI), then run this again.',
    );
  }
  const accounts = Array.isArray(who.accounts) ? who.accounts : [];
  const chosen = process.env.CLOUDFLARE_ACCOUNT_ID || readConfig(configPath).raw.account_id;
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

// ---- wrangler.toml --------------------------------------------------------------
// Parsed with wrangler's own reader; edited line by line so the owner's comments stay.

export function readConfig(configPath) {
  const text = readFileSync(configPath, 'utf8');
  return { text, raw: parseToml(configPath) };
}

let readRaw;
function parseToml(configPath) {
  if (!readRaw) {
    // wrangler is a dependency of this project; its reader is the authority on the format.
    readRaw = createRequire(join(ROOT, 'package.json'))('wrangler').experimental_readRawConfig;
  }
  try {
    return readRaw({ config: configPath }).rawConfig;
  } catch (e) {
    throw new Stop(`${configPath} is not valid: ${e.message}`);
  }
}

/** Table header of a line (`[vars]`, `[[d1_databases]]`), or null. */
function header(line) {
  const m = /^\s*(\[\[?[^\]]+\]\]?)\s*(#.*)?$/.exec(line);
  return m ? m[1].replace(/\s+/g, '') : null;
}

const tomlString = (v) => JSON.stringify(String(v));

/** Sets `database_id` in the [[d1_databases]] block whose binding is "DB". */
export function setDatabaseId(text, id) {
  const lines = text.split('\n');
  let start = -1;
  for (let i = 0; i <= lines.length; i++) {
    const h = i < lines.length ? header(lines[i]) : '<end>';
    if (h === null) continue;
    if (start >= 0) {
      const block = lines.slice(start, i);
      if (block.some((l) => /^\s*binding\s*=\s*"DB"/.test(l))) {
        const at = block.findIndex((l) => /^\s*database_id\s*=/.test(l));
        if (at >= 0) lines[start + at] = `database_id = ${tomlString(id)}`;
        else lines.splice(start + 1, 0, `database_id = ${tomlString(id)}`);
        return lines.join('\n');
      }
    }
    start = h === '[[d1_databases]]' ? i : -1;
  }
  throw new Stop('wrangler.toml has no [[d1_databases]] block with binding = "DB"');
}

/** Sets a [vars] entry, replacing an existing or commented-out (`# NAME = …`) line. */
export function setVar(text, name, value) {
  const lines = text.split('\n');
  const entry = `${name} = ${tomlString(value)}`;
  const start = lines.findIndex((l) => header(l) === '[vars]');
  if (start < 0) return `${text.replace(/\n*$/, '\n')}\n[vars]\n${entry}\n`;
  let end = lines.findIndex((l, i) => i > start && header(l) !== null);
  if (end < 0) end = lines.length;
  const own = new RegExp(`^\\s*${name}\\s*=`);
  const commented = new RegExp(`^\\s*#\\s*${name}\\s*=`);
  let at = lines.findIndex((l, i) => i > start && i < end && own.test(l));
  if (at < 0) at = lines.findIndex((l, i) => i > start && i < end && commented.test(l));
  if (at >= 0) {
    lines[at] = entry;
  } else {
    // After the block's last entry, so trailing comments about later tables stay put.
    let last = end - 1;
    while (last > start && /^\s*(#.*)?$/.test(lines[last])) last--;
    lines.splice(last + 1, 0, entry);
  }
  return lines.join('\n');
}

/** Routes the Worker to a custom domain (top-level `routes`, before the first table). */
export function setCustomDomain(text, host) {
  const entry = `routes = [{ pattern = ${tomlString(host)}, custom_domain = true }]`;
  const lines = text.split('\n');
  const existing = lines.findIndex((l) => /^\s*routes\s*=/.test(l));
  if (existing >= 0) {
    lines[existing] = entry;
    return lines.join('\n');
  }
  const firstTable = lines.findIndex((l) => header(l) !== null);
  const at = firstTable < 0 ? lines.length : firstTable;
  lines.splice(at, 0, '# Custom domain for the Worker (written by `npm run deploy -- --domain`).', entry, '');
  return lines.join('\n');
}

/** Writes the edited text and checks wrangler reads it back as intended. */
export function writeConfig(configPath, text, check) {
  const before = readFileSync(configPath, 'utf8');
  if (before === text) return;
  writeFileSync(configPath, text);
  const raw = parseToml(configPath);
  if (!check(raw)) {
    writeFileSync(configPath, before);
    throw new Stop(`editing ${configPath} did not give the intended result; it was left unchanged`);
  }
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

/** Resolves --config (default: the repository's wrangler.toml) to an absolute path. */
export function configPathFrom(value) {
  return resolve(value ?? join(ROOT, 'wrangler.toml'));
}

/** Runs `main`, turning a Stop into a clear message and exit code 1. */
/**
 * A script's flags (node:util parseArgs) plus the ones every script takes: --yes/-y, --config,
 * --help/-h. A bad flag stops with the usage; --help prints it and exits.
 */
export function parseOptions(options, usage) {
  let values;
  try {
    values = parseArgs({
      options: {
        ...options,
        yes: { type: 'boolean', short: 'y' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    throw new Stop(`${e.message}\n${usage}`);
  }
  if (values.help) {
    say(usage);
    process.exit(0);
  }
  return values;
}

export async function runMain(main) {
  try {
    await main();
  } catch (e) {
    if (e instanceof Stop) {
      process.stderr.write(`\n[gatehouse] stopped: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}
