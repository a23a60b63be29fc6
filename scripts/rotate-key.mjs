#!/usr/bin/env node
// `npm run rotate-key`: signing-key rotation without logging anybody out.
//
// Cloudflare never gives a secret back, so a key is never moved: each key lives in its own
// secret, and the var SIGNING_KEYS (in gatehouse.config.json) lists their names, newest first. The
// newest signs new tokens and cookies; all listed keys verify (the JWKS publishes them all).
//
//   rotate-key           puts a new secret SIGNING_KEY_<UTC time>, prepends it to SIGNING_KEYS,
//                        deploys. Tokens signed by the older keys keep working.
//   rotate-key --retire  once the access-token lifetime has passed since the rotation:
//                        SIGNING_KEYS = the newest key only, deploy, then delete the old secrets.
//                        Tokens still signed by them stop working.
import { Stop, ensureDependencies, parseOptions, requireNode, runMain, say, warn } from './lib/cli.mjs';
import {
  SESSION_TTL_SECONDS, accessTokenTtl, auditKeyEvent, humanDuration, keyId, mustWrangler, newSigningKey, putSecret, requireLogin, secretNames,
  signingKeyNames,
} from './lib/cloudflare.mjs';
import { installation, readSettings, renderConfig, writeSettings } from './lib/install.mjs';

const USAGE = `Usage: npm run rotate-key -- [--retire [--force]] [--yes] [--config PATH]
  (no flag)   add a new signing key; older ones keep verifying
  --retire    drop every key but the newest (safe once ACCESS_TOKEN_TTL has passed since the rotation)
  --force     retire even earlier: tokens signed by the old keys stop working at once`;

/** SIGNING_KEYS may name at most this many (src/config/signing_keys.rs MAX_SIGNING_KEYS). */
const MAX_KEYS = 4;

const stamp = (d) => d.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);

/** When a key was created, from its name (SIGNING_KEY_YYYYMMDD_HHMMSS), if it says. */
function createdAt(name) {
  const m = /^SIGNING_KEY_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$/.exec(name);
  return m ? Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

function options() {
  const v = parseOptions({ retire: { type: 'boolean' }, force: { type: 'boolean' }, config: { type: 'string' } }, USAGE);
  return { inst: installation(v.config), retire: Boolean(v.retire), force: Boolean(v.force) };
}

/** Saves SIGNING_KEYS and deploys; a failed deploy puts the settings back as they were. */
function deployWith(inst, list) {
  const before = readSettings(inst);
  const after = { ...before, vars: { ...(before.vars ?? {}), SIGNING_KEYS: list } };
  writeSettings(inst, after);
  say(`${inst.settingsPath}: SIGNING_KEYS = "${list}"`);
  const { path: configPath } = renderConfig(inst, after);
  try {
    mustWrangler(['deploy'], { configPath, live: true });
  } catch (e) {
    writeSettings(inst, before);
    renderConfig(inst, before);
    say(`${inst.settingsPath}: SIGNING_KEYS put back as it was`);
    throw e;
  }
}

function rotate(inst, configPath, names, ttl) {
  if (names.length >= MAX_KEYS) {
    throw new Stop(`SIGNING_KEYS already names ${names.length} keys; retire the old ones first (npm run rotate-key -- --retire). Nothing was changed.`);
  }
  const name = `SIGNING_KEY_${stamp(new Date())}`;
  const { names: secrets } = secretNames(configPath);
  const missing = names.filter((n) => !secrets.includes(n));
  if (missing.length) {
    throw new Stop(`SIGNING_KEYS names ${missing.join(', ')}, which the Worker does not have; run npm run deploy first. Nothing was changed.`);
  }
  if (secrets.includes(name)) throw new Stop(`a secret ${name} exists already; wait a second and run this again`);

  // The secret exists before any deployed configuration refers to it.
  const seed = newSigningKey();
  putSecret(configPath, name, seed);
  const list = [name, ...names].join(' ');
  deployWith(inst, list);
  auditKeyEvent(configPath, 'rotate', { name, kid: keyId(seed), previous: names.join(' ') });
  say(`\nRotated. New tokens are signed by ${name}; tokens signed by ${names.join(', ')} keep working.`);
  say(`Retire the old key(s) after ${humanDuration(ttl)} (ACCESS_TOKEN_TTL; owner logins made before now last up to`);
  say(`${humanDuration(SESSION_TTL_SECONDS)}, and retiring earlier only asks the owner for the password again):`);
  say('  npm run rotate-key -- --retire');
}

function retire(inst, configPath, names, ttl, force) {
  const [newest, ...old] = names;
  if (!old.length) {
    say(`Only ${newest} is in use; nothing to retire.`);
    return;
  }
  const born = createdAt(newest);
  const age = born === undefined ? undefined : Math.floor((Date.now() - born) / 1000);
  if (age !== undefined && age < ttl && !force) {
    throw new Stop(
      `${newest} is only ${humanDuration(Math.max(age, 0))} old: access tokens signed by ${old.join(', ')} may be valid for up to ` +
        `${humanDuration(ttl)} (ACCESS_TOKEN_TTL) after the rotation. Retiring now makes clients refresh early; ` +
        'run this again later, or pass --force. Nothing was changed.',
    );
  }
  warn(`tokens signed by ${old.join(', ')} stop working now (clients refresh and get one signed by ${newest}).`);
  if (age !== undefined && age < SESSION_TTL_SECONDS) {
    warn(`an owner login older than ${newest} needs the password again at the next consent.`);
  }
  // Deployed first: no running version may refer to a deleted secret.
  deployWith(inst, newest);
  for (const name of old) {
    say(`Deleting secret ${name}`);
    mustWrangler(['secret', 'delete', name], { configPath });
  }
  auditKeyEvent(configPath, 'retire', { current: newest, retired: old.join(' ') });
  say(`\nRetired ${old.join(', ')}. ${newest} is the only signing key.`);
}

async function main() {
  requireNode();
  ensureDependencies();
  const opts = options();
  const settings = readSettings(opts.inst);
  const { path: configPath, raw } = renderConfig(opts.inst, settings);
  const names = signingKeyNames(raw);
  const ttl = accessTokenTtl(raw);
  requireLogin(configPath, settings.account_id);
  if (!settings.database_id) throw new Stop(`this installation was not deployed from here (${opts.inst.settingsPath} has no database_id): run npm run deploy first`);
  if (opts.retire) retire(opts.inst, configPath, names, ttl, opts.force);
  else rotate(opts.inst, configPath, names, ttl);
}

runMain(main);
