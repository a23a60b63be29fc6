#!/usr/bin/env node
// `npm run deploy`: first-time provisioning and every later deploy, idempotently.
//
//   1. checks the Cloudflare login (`wrangler whoami --json`) and reads what exists
//      (`d1 list`, `secret list`): nothing is changed before all of that succeeded;
//   2. creates the D1 database if missing and writes its id into wrangler.toml;
//      writes --origin-url / --public-url / --domain into wrangler.toml;
//   3. applies the migrations remotely;
//   4. sets the secrets the Worker lacks: a generated SIGNING_KEY (never printed) and
//      OWNER_PASSWORD (asked without echo, from --owner-password-stdin or
//      $GATEHOUSE_OWNER_PASSWORD, or generated and printed once) and PASSKEY_SETUP_CODE
//      (generated and printed once: it enrols the owner's first passkey); existing secrets
//      are kept and never printed. Values go to `wrangler secret put` on stdin, never argv;
//   5. `wrangler deploy`.
// `--yes` runs without questions (CI). See the README's "Deploy" section.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import {
  PLACEHOLDER_DB_ID, Stop, configPathFrom, mustWrangler, newSigningKey, parseJsonOutput, parseOptions, putSecret, readConfig,
  requireLogin, runMain, say, secretNames, setCustomDomain, setDatabaseId, setVar, signingKeyNames, writeConfig,
} from './lib/cloudflare.mjs';

const USAGE = `Usage: npm run deploy -- [options]
  --origin-url URL         the origin MCP server (e.g. your Cloudflare Tunnel hostname); saved as ORIGIN_URL
  --public-url URL         the public origin of Gatehouse (the OAuth issuer); saved as PUBLIC_URL
  --domain HOST            serve the Worker on this custom domain (a zone in your account);
                           sets PUBLIC_URL to https://HOST unless --public-url is given
  --owner-password-stdin   read the owner's password from stdin (else $GATEHOUSE_OWNER_PASSWORD,
                           else asked, else generated and printed once)
  --yes, -y                no questions (CI); a missing owner password is generated
  --config PATH            another wrangler.toml (default: the repository's)
Environment: GATEHOUSE_OWNER_PASSWORD; GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID and
  GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET (a Cloudflare Access service token for the origin; set as
  the secrets ORIGIN_ACCESS_CLIENT_ID / ORIGIN_ACCESS_CLIENT_SECRET); CLOUDFLARE_API_TOKEN /
  CLOUDFLARE_ACCOUNT_ID (CI); GATEHOUSE_WRANGLER (another wrangler executable).`;

/** Secrets the owner hands over through the environment (they come from Cloudflare, not from us). */
const GIVEN_SECRETS = ['ORIGIN_ACCESS_CLIENT_ID', 'ORIGIN_ACCESS_CLIENT_SECRET'];

const MIN_PASSWORD = 8;

function options() {
  const parsed = parseOptions(
    {
      'origin-url': { type: 'string' },
      'public-url': { type: 'string' },
      domain: { type: 'string' },
      'owner-password-stdin': { type: 'boolean' },
    },
    USAGE,
  );
  const url = (flag, { bare }) => {
    const raw = parsed[flag];
    if (raw === undefined) return undefined;
    let u;
    try {
      u = new URL(raw);
    } catch {
      throw new Stop(`--${flag} must be an absolute URL such as https://mcp.example.com (got ${JSON.stringify(raw)})`);
    }
    if (u.protocol !== 'https:') throw new Stop(`--${flag} must be an https URL (got ${JSON.stringify(raw)})`);
    if (u.search || u.hash || (bare && u.pathname !== '/')) {
      throw new Stop(`--${flag} must be ${bare ? 'a bare origin (no path)' : 'a URL without query or fragment'}, such as https://mcp.example.com`);
    }
    return bare ? u.origin : u.href;
  };
  const domain = parsed.domain?.trim().toLowerCase();
  if (domain !== undefined && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domain)) {
    throw new Stop(`--domain must be a host name such as mcp.example.com (got ${JSON.stringify(parsed.domain)})`);
  }
  return {
    configPath: configPathFrom(parsed.config),
    originUrl: url('origin-url', { bare: false }),
    publicUrl: url('public-url', { bare: true }) ?? (domain ? `https://${domain}` : undefined),
    domain,
    passwordFromStdin: Boolean(parsed['owner-password-stdin']),
    yes: Boolean(parsed.yes),
  };
}

/** Reads one line from the terminal without echoing it. */
function askHidden(question) {
  return new Promise((resolveAnswer, reject) => {
    const { stdin } = process;
    process.stdout.write(question);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.resume();
    let value = '';
    const finish = (fn) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stdout.write('\n');
      fn();
    };
    function onData(chunk) {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(() => resolveAnswer(value));
        if (ch === '\u0003' || ch === '\u0004') return finish(() => reject(new Stop('cancelled')));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    }
    stdin.on('data', onData);
  });
}

async function askYesNo(question) {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const generatedPassword = () => randomBytes(18).toString('base64url');
/** The one-time code that enrols the first passkey at /passkeys/setup (24 characters). */
const newSetupCode = () => randomBytes(18).toString('base64url');

/** The owner's password: given, asked, or generated (then printed once by the caller). */
async function ownerPassword(opts, interactive) {
  let given;
  if (opts.passwordFromStdin) given = await readStdin();
  else if (process.env.GATEHOUSE_OWNER_PASSWORD !== undefined) given = process.env.GATEHOUSE_OWNER_PASSWORD;
  if (given !== undefined) {
    if ([...given].length < MIN_PASSWORD) throw new Stop(`the owner password must have at least ${MIN_PASSWORD} characters`);
    return { value: given, generated: false };
  }
  if (!interactive) return { value: generatedPassword(), generated: true };
  for (;;) {
    const first = await askHidden(`Owner password for the login page (at least ${MIN_PASSWORD} characters; empty = generate one): `);
    if (first === '') return { value: generatedPassword(), generated: true };
    if ([...first].length < MIN_PASSWORD) {
      say(`Too short: use at least ${MIN_PASSWORD} characters.`);
      continue;
    }
    if ((await askHidden('Again: ')) === first) return { value: first, generated: false };
    say('The two entries differ; try again.');
  }
}

/** The D1 database for binding DB: by the configured id, else by name. */
function findDatabase(configPath, db) {
  const list = parseJsonOutput(mustWrangler(['d1', 'list', '--json'], { configPath }).stdout);
  if (!Array.isArray(list)) throw new Stop('`wrangler d1 list --json` did not print a JSON list');
  const configured = db.database_id && db.database_id !== PLACEHOLDER_DB_ID ? db.database_id : undefined;
  if (configured) {
    const hit = list.find((d) => d.uuid === configured);
    if (!hit) {
      throw new Stop(
        `wrangler.toml names D1 database ${configured}, which this Cloudflare account does not have ` +
          '(another account? set CLOUDFLARE_ACCOUNT_ID). Nothing was changed.',
      );
    }
    return hit.uuid;
  }
  return list.find((d) => d.name === db.database_name)?.uuid;
}

function createDatabase(configPath, name) {
  say(`Creating D1 database ${name}`);
  const out = mustWrangler(['d1', 'create', name], { configPath }).stdout;
  const id = /database_id\s*=\s*"([0-9a-f-]{36})"/i.exec(out)?.[1] ?? /"database_id"\s*:\s*"([0-9a-f-]{36})"/i.exec(out)?.[1];
  if (id) return id;
  const again = parseJsonOutput(mustWrangler(['d1', 'list', '--json'], { configPath }).stdout);
  const found = Array.isArray(again) ? again.find((d) => d.name === name)?.uuid : undefined;
  if (!found) throw new Stop(`created D1 database ${name} but could not find its id; run npm run deploy again`);
  return found;
}

async function main() {
  const opts = options();
  const { configPath } = opts;
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !opts.yes && !opts.passwordFromStdin;
  if (!interactive && !opts.yes) {
    throw new Stop('no terminal to ask questions on (or the password comes from stdin): pass --yes to deploy without questions');
  }

  // ---- local checks: nothing needs the network yet --------------------------------
  const { raw } = readConfig(configPath);
  const db = (raw.d1_databases ?? []).find((d) => d.binding === 'DB');
  if (!db?.database_name) throw new Stop(`${configPath} has no [[d1_databases]] entry with binding = "DB" and a database_name`);
  const hasOriginBinding = (raw.services ?? []).some((s) => s.binding === 'ORIGIN');
  if (!opts.originUrl && !raw.vars?.ORIGIN_URL && !hasOriginBinding) {
    throw new Stop(
      'Gatehouse needs to know where your MCP server is: pass --origin-url https://<your tunnel hostname>/mcp ' +
        '(it is saved in wrangler.toml for later deploys). Nothing was changed.',
    );
  }
  const keyNames = signingKeyNames(raw);
  const given = GIVEN_SECRETS.filter((n) => process.env[`GATEHOUSE_${n}`]);
  if (given.length === 1) {
    throw new Stop(`set both GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID and GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET (the service token's two halves), or neither`);
  }

  // ---- read-only checks against Cloudflare -------------------------------------------
  requireLogin(configPath);
  const existingDb = findDatabase(configPath, db);
  const { names: secrets } = secretNames(configPath);
  const missingKeys = keyNames.filter((n) => !secrets.includes(n));
  if (raw.vars?.SIGNING_KEYS && missingKeys.length) {
    throw new Stop(
      `SIGNING_KEYS in wrangler.toml names ${missingKeys.join(', ')}, which the Worker does not have as secret(s). ` +
        'Fix SIGNING_KEYS (or run npm run rotate-key) first. Nothing was changed.',
    );
  }
  const needKey = missingKeys.length > 0; // only SIGNING_KEY itself can be missing here
  const needPassword = !secrets.includes('OWNER_PASSWORD');
  const needSetupCode = !secrets.includes('PASSKEY_SETUP_CODE');
  const passwordGiven = opts.passwordFromStdin || process.env.GATEHOUSE_OWNER_PASSWORD !== undefined;

  say('\nPlan:');
  say(`  D1 database ${db.database_name}: ${existingDb ? `exists (${existingDb})` : 'create'}`);
  if (opts.originUrl) say(`  ORIGIN_URL = ${opts.originUrl}`);
  if (opts.publicUrl) say(`  PUBLIC_URL = ${opts.publicUrl}`);
  if (opts.domain) say(`  custom domain ${opts.domain}`);
  say('  apply D1 migrations (remote)');
  say(`  SIGNING_KEY: ${needKey ? 'generate' : 'keep (set)'}`);
  say(`  OWNER_PASSWORD: ${needPassword ? 'set' : passwordGiven ? 'replace with the one given' : 'keep (set)'}`);
  say(`  PASSKEY_SETUP_CODE: ${needSetupCode ? 'generate (printed once)' : 'keep (set)'}`);
  for (const n of given) say(`  ${n}: ${secrets.includes(n) ? 'replace' : 'set'} (from $GATEHOUSE_${n})`);
  say('  wrangler deploy');
  if (interactive && !(await askYesNo('\nGo ahead?'))) throw new Stop('nothing was changed');

  // Asked before any change, so a cancelled prompt leaves nothing half-done.
  const password = needPassword || passwordGiven ? await ownerPassword(opts, interactive) : undefined;

  // ---- changes -------------------------------------------------------------------------
  const dbId = existingDb ?? createDatabase(configPath, db.database_name);
  let text = readConfig(configPath).text;
  text = setDatabaseId(text, dbId);
  if (opts.originUrl) text = setVar(text, 'ORIGIN_URL', opts.originUrl);
  if (opts.publicUrl) text = setVar(text, 'PUBLIC_URL', opts.publicUrl);
  if (opts.domain) text = setCustomDomain(text, opts.domain);
  writeConfig(configPath, text, (r) => {
    const d = (r.d1_databases ?? []).find((x) => x.binding === 'DB');
    return d?.database_id === dbId
      && (!opts.originUrl || r.vars?.ORIGIN_URL === opts.originUrl)
      && (!opts.publicUrl || r.vars?.PUBLIC_URL === opts.publicUrl)
      && (!opts.domain || (r.routes ?? []).some((x) => x.pattern === opts.domain && x.custom_domain));
  });
  say(`wrangler.toml: database_id = ${dbId}`);

  mustWrangler(['d1', 'migrations', 'apply', 'DB', '--remote'], { configPath, live: true });

  if (needKey) putSecret(configPath, 'SIGNING_KEY', newSigningKey());
  if (password) putSecret(configPath, 'OWNER_PASSWORD', password.value);
  const setupCode = needSetupCode ? newSetupCode() : undefined;
  if (setupCode) putSecret(configPath, 'PASSKEY_SETUP_CODE', setupCode);
  for (const n of given) putSecret(configPath, n, process.env[`GATEHOUSE_${n}`]);

  mustWrangler(['deploy'], { configPath, live: true });

  const { raw: after } = readConfig(configPath);
  say('\nDeployed.');
  if (after.vars?.PUBLIC_URL) say(`  MCP connector URL: ${after.vars.PUBLIC_URL}/mcp`);
  else say('  MCP connector URL: https://<the URL wrangler printed above>/mcp');
  if (setupCode) {
    const where = after.vars?.PUBLIC_URL ? `${after.vars.PUBLIC_URL}/passkeys/setup` : 'https://<your Gatehouse host>/passkeys/setup';
    say(`\n  Passkey setup code (works once; enrol your first passkey at ${where}):`);
    say(`    ${setupCode}`);
  }
  if (password?.generated) {
    say('\n  Owner password (generated; shown only this once — keep it in your password manager):');
    say(`    ${password.value}`);
  }
}

runMain(main);
