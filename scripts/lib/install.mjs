// One installation's own values, kept out of tracked files: gatehouse.config.json (next to
// wrangler.toml, git-ignored) holds the D1 database id, routes, bindings and the owner's vars;
// wrangler.toml stays the tracked template. Every wrangler call of the scripts uses the
// combination, written to .gatehouse/wrangler.json, so `git pull` never meets a local edit.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ROOT, Stop } from './cli.mjs';

export const PLACEHOLDER_DB_ID = '00000000-0000-0000-0000-000000000000';
export const SETTINGS_FILE = 'gatehouse.config.json';
export const GENERATED = join('.gatehouse', 'wrangler.json');

/** Keys gatehouse.config.json may hold (a typo stops the script instead of being ignored). */
const KEYS = {
  $comment: 'string',
  account_id: 'string',
  database_id: 'string',
  routes: 'array',
  vars: 'object',
  services: 'array',
  vpc_services: 'array',
  open_origin: 'boolean',
};
/** The [vars] that earlier versions of `npm run deploy` wrote into wrangler.toml. */
const LEGACY_VARS = ['ORIGIN_URL', 'PUBLIC_URL', 'SIGNING_KEYS'];
const COMMENT = 'Settings of this Gatehouse installation; written by npm run deploy and read by every script. Not tracked by git. Keys: docs/configuration.md.';

let readRaw;
/**
 * wrangler's own reader: the authority on wrangler.toml's format. It picks the format by the
 * file's extension, so a copy named otherwise (wrangler.toml.mine) is read as TOML through a
 * temporary file.
 */
export function parseWranglerConfig(path) {
  readRaw ??= createRequire(join(ROOT, 'package.json'))('wrangler').experimental_readRawConfig;
  let file = path;
  let tmp;
  if (!/\.(toml|jsonc?)$/.test(path)) {
    tmp = mkdtempSync(join(tmpdir(), 'gatehouse-'));
    file = join(tmp, 'wrangler.toml');
    copyFileSync(path, file);
  }
  try {
    return readRaw({ config: file }).rawConfig;
  } catch (e) {
    throw new Stop(`${path} is not valid: ${e.message}`);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The installation at `templatePath` (default: the repository's wrangler.toml): its template,
 * its settings file, the generated config's path.
 */
export function installation(templatePath) {
  const template = resolve(templatePath ?? join(ROOT, 'wrangler.toml'));
  const dir = dirname(template);
  return { template, dir, settingsPath: join(dir, SETTINGS_FILE), generated: join(dir, GENERATED) };
}

export function readSettings(inst) {
  if (!existsSync(inst.settingsPath)) return {};
  let s;
  try {
    s = JSON.parse(readFileSync(inst.settingsPath, 'utf8'));
  } catch (e) {
    throw new Stop(`${inst.settingsPath} is not valid JSON (${e.message}); fix it or move it away.`);
  }
  if (!s || typeof s !== 'object' || Array.isArray(s)) throw new Stop(`${inst.settingsPath} must hold a JSON object`);
  for (const [k, v] of Object.entries(s)) {
    const want = KEYS[k];
    if (!want) throw new Stop(`${inst.settingsPath}: unknown key "${k}" (known: ${Object.keys(KEYS).join(', ')}; see docs/configuration.md)`);
    const kind = Array.isArray(v) ? 'array' : typeof v;
    if (kind !== want) throw new Stop(`${inst.settingsPath}: "${k}" must be a JSON ${want}`);
  }
  for (const [k, v] of Object.entries(s.vars ?? {})) {
    if (typeof v !== 'string') throw new Stop(`${inst.settingsPath}: vars.${k} must be a string (Workers vars are text)`);
  }
  return s;
}

/** Writes the settings file (atomically: a half-written file would lose the database id). */
export function writeSettings(inst, settings) {
  const { $comment, ...rest } = settings;
  const text = `${JSON.stringify({ $comment: $comment ?? COMMENT, ...rest }, null, 2)}\n`;
  const tmp = `${inst.settingsPath}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, inst.settingsPath);
}

/**
 * Values an earlier Gatehouse wrote into the template (database_id, routes, ORIGIN_URL,
 * PUBLIC_URL, SIGNING_KEYS) that the settings lack: returned as settings to add, so that an
 * existing installation keeps working after the upgrade.
 */
export function legacyValues(raw, settings) {
  const found = {};
  const db = (raw.d1_databases ?? []).find((d) => d.binding === 'DB');
  if (db?.database_id && db.database_id !== PLACEHOLDER_DB_ID && !settings.database_id) found.database_id = db.database_id;
  if (raw.routes?.length && !settings.routes) found.routes = raw.routes;
  for (const v of LEGACY_VARS) {
    if (raw.vars?.[v] !== undefined && settings.vars?.[v] === undefined) (found.vars ??= {})[v] = raw.vars[v];
  }
  return found;
}

export function mergeSettings(a, b) {
  return { ...a, ...b, vars: { ...(a.vars ?? {}), ...(b.vars ?? {}) } };
}

/** Bindings of `kind` from the template, with those the settings redefine replaced. */
function bindings(raw, settings, kind) {
  const own = settings[kind] ?? [];
  const names = new Set(own.map((b) => b.binding));
  const merged = [...(raw[kind] ?? []).filter((b) => !names.has(b.binding)), ...own];
  return merged.length ? merged : undefined;
}

/** A path of the template, relative to the generated config (which lives one level down). */
function rebase(inst, p) {
  return relative(dirname(inst.generated), resolve(inst.dir, p)).split(sep).join('/');
}

/**
 * Writes .gatehouse/wrangler.json = template + settings, and returns { path, raw } where raw
 * is what wrangler reads back from it.
 */
export function renderConfig(inst, settings) {
  const raw = parseWranglerConfig(inst.template);
  const config = structuredClone(raw);
  delete config.build;
  config.main = rebase(inst, raw.main ?? 'dist/index.js');
  config.d1_databases = (raw.d1_databases ?? []).map((d) => ({
    ...d,
    migrations_dir: rebase(inst, d.migrations_dir ?? 'migrations'),
    ...(d.binding === 'DB' && settings.database_id ? { database_id: settings.database_id } : {}),
  }));
  config.vars = { ...(raw.vars ?? {}), ...(settings.vars ?? {}) };
  if (settings.routes) config.routes = settings.routes;
  if (settings.account_id) config.account_id = settings.account_id;
  for (const kind of ['services', 'vpc_services']) {
    const b = bindings(raw, settings, kind);
    if (b) config[kind] = b;
    else delete config[kind];
  }
  mkdirSync(dirname(inst.generated), { recursive: true });
  writeFileSync(inst.generated, `${JSON.stringify(config, null, 2)}\n`);
  return { path: inst.generated, raw: parseWranglerConfig(inst.generated) };
}

/** The D1 binding DB of a config, or a Stop naming the file. */
export function databaseOf(raw, where) {
  const db = (raw.d1_databases ?? []).find((d) => d.binding === 'DB');
  if (!db?.database_name) throw new Stop(`${where} has no [[d1_databases]] entry with binding = "DB" and a database_name`);
  return db;
}

/** An ORIGIN binding (service binding or Workers VPC service) in a config, if any. */
export function originBinding(raw) {
  return [...(raw.services ?? []), ...(raw.vpc_services ?? [])].find((b) => b.binding === 'ORIGIN');
}
