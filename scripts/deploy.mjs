#!/usr/bin/env node
// `npm run deploy`: first-time provisioning and every later deploy, idempotently. Needs Node
// and a Cloudflare login only: it uploads the committed build (dist/), compiles nothing.
//
//   1. checks dist/ against dist/BUILD.json, the Cloudflare login (`wrangler whoami --json`)
//      and what exists (`d1 list`, `secret list`), and that the origin is not left open:
//      nothing is changed before all of that succeeded;
//   2. creates the D1 database if missing; keeps its id, the routes and the origin in
//      gatehouse.config.json (untracked; wrangler.toml stays the template);
//   3. applies the migrations remotely;
//   4. sets the secrets the Worker lacks: a generated SIGNING_KEY (never printed) and
//      OWNER_PASSWORD (asked without echo, from --owner-password-stdin or
//      $GATEHOUSE_OWNER_PASSWORD, or generated and printed once) and PASSKEY_SETUP_CODE
//      (generated and printed once: it enrols the owner's first passkey); existing secrets
//      are kept and never printed. Values go to `wrangler secret put` on stdin, never argv;
//   5. `wrangler deploy` with .gatehouse/wrangler.json (template + settings).
// `--yes` runs without questions (CI). See README.md and docs/origin.md.
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { ROOT, Stop, ensureDependencies, parseOptions, requireNode, runMain, say, warn } from './lib/cli.mjs';
import { mustWrangler, newSigningKey, parseJsonOutput, putSecret, requireLogin, secretNames, signingKeyNames } from './lib/cloudflare.mjs';
import { inspectDist } from './lib/dist.mjs';
import {
  PLACEHOLDER_DB_ID, databaseOf, installation, legacyValues, mergeSettings, originBinding, parseWranglerConfig, readSettings, renderConfig,
  writeSettings,
} from './lib/install.mjs';

const USAGE = `Usage: npm run deploy -- [options]
Where your MCP server is (remembered in gatehouse.config.json; see docs/origin.md):
  --origin-vpc-service ID  through this Workers VPC service: nothing public (recommended);
                           add --origin-url with the URL as the tunnel's machine sees it,
                           e.g. http://127.0.0.1:8000/mcp
  --origin-service NAME    through a service binding to your Worker NAME
  --origin-url URL         its MCP endpoint; without a binding a public https URL (e.g. a
                           tunnel hostname), which must be locked to Gatehouse: set
                           GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID/_SECRET (an Access service token)
                           or GATEHOUSE_ORIGIN_SHARED_SECRET, or pass --open-origin
  --open-origin            accept a public origin without either lock (anyone who finds the
                           URL can use your MCP server); remembered
The public address of Gatehouse:
  --domain HOST            serve on this custom domain (a zone in your account); sets PUBLIC_URL
  --public-url URL         the public origin (the OAuth issuer) when not using --domain
Other:
  --owner-password-stdin   read the owner's password from stdin (else $GATEHOUSE_OWNER_PASSWORD,
                           else asked, else generated and printed once)
  --yes, -y                no questions (CI); a missing owner password is generated
  --config PATH            another wrangler.toml template (its settings file sits next to it)
  --adopt PATH             take database_id, routes, ORIGIN_URL, PUBLIC_URL and SIGNING_KEYS from a
                           wrangler.toml an earlier version of deploy wrote them into
Environment: GATEHOUSE_OWNER_PASSWORD; GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID and
  GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET (set as the secrets ORIGIN_ACCESS_CLIENT_ID/_SECRET);
  GATEHOUSE_ORIGIN_SHARED_SECRET (set as the secret ORIGIN_SHARED_SECRET); CLOUDFLARE_API_TOKEN /
  CLOUDFLARE_ACCOUNT_ID (CI); GATEHOUSE_WRANGLER (another wrangler executable).`;

/** Secrets the owner hands over through the environment (they come from Cloudflare or the origin, not from us). */
const GIVEN_SECRETS = ['ORIGIN_ACCESS_CLIENT_ID', 'ORIGIN_ACCESS_CLIENT_SECRET', 'ORIGIN_SHARED_SECRET'];

const MIN_PASSWORD = 8;
/** src/config/forwarding.rs: the shared secret's minimum length. */
const MIN_SHARED_SECRET = 16;

function options() {
  const parsed = parseOptions(
    {
      'origin-url': { type: 'string' },
      'origin-service': { type: 'string' },
      'origin-vpc-service': { type: 'string' },
      'open-origin': { type: 'boolean' },
      'public-url': { type: 'string' },
      domain: { type: 'string' },
      'owner-password-stdin': { type: 'boolean' },
      config: { type: 'string' },
      adopt: { type: 'string' },
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
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Stop(`--${flag} must be an https URL (got ${JSON.stringify(raw)})`);
    if (u.search || u.hash || (bare && u.pathname !== '/')) {
      throw new Stop(`--${flag} must be ${bare ? 'a bare origin (no path)' : 'a URL without query or fragment'}, such as https://mcp.example.com`);
    }
    return { url: bare ? u.origin : u.href, https: u.protocol === 'https:' };
  };
  const domain = parsed.domain?.trim().toLowerCase();
  if (domain !== undefined && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domain)) {
    throw new Stop(`--domain must be a host name such as mcp.example.com (got ${JSON.stringify(parsed.domain)})`);
  }
  const publicUrl = url('public-url', { bare: true });
  if (publicUrl && !publicUrl.https) throw new Stop(`--public-url must be an https URL (got ${JSON.stringify(parsed['public-url'])})`);
  const service = parsed['origin-service']?.trim();
  if (service !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(service)) {
    throw new Stop(`--origin-service must be the name of a Worker in your account (lower-case letters, digits, '-'; got ${JSON.stringify(parsed['origin-service'])})`);
  }
  const vpc = parsed['origin-vpc-service']?.trim();
  if (vpc !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(vpc)) {
    throw new Stop(`--origin-vpc-service must be the id \`wrangler vpc service create\` printed (a UUID; got ${JSON.stringify(parsed['origin-vpc-service'])})`);
  }
  if (service && vpc) throw new Stop('pass --origin-service or --origin-vpc-service, not both: Gatehouse has one origin');
  return {
    config: parsed.config,
    adopt: parsed.adopt,
    origin: url('origin-url', { bare: false }),
    service,
    vpc,
    openOrigin: Boolean(parsed['open-origin']),
    publicUrl: publicUrl?.url ?? (domain ? `https://${domain}` : undefined),
    domain,
    passwordFromStdin: Boolean(parsed['owner-password-stdin']),
    yes: Boolean(parsed.yes),
  };
}

/** The settings this run asks for, on top of the saved ones. */
function requested(opts, saved) {
  const next = { ...saved, vars: { ...(saved.vars ?? {}) } };
  if (opts.origin) next.vars.ORIGIN_URL = opts.origin.url;
  if (opts.publicUrl) next.vars.PUBLIC_URL = opts.publicUrl;
  if (opts.domain) next.routes = [{ pattern: opts.domain, custom_domain: true }];
  const without = (list) => (list ?? []).filter((b) => b.binding !== 'ORIGIN');
  if (opts.service || opts.vpc) {
    next.services = without(saved.services);
    next.vpc_services = without(saved.vpc_services);
    if (opts.service) next.services.push({ binding: 'ORIGIN', service: opts.service });
    else next.vpc_services.push({ binding: 'ORIGIN', service_id: opts.vpc });
    for (const k of ['services', 'vpc_services']) if (!next[k].length) delete next[k];
  }
  if (opts.openOrigin) next.open_origin = true;
  return next;
}

/**
 * How the origin is reached and who else can reach it. A binding exposes nothing; a public
 * URL must carry a credential the origin's side checks, unless the owner chose otherwise.
 */
function originLock(raw, settings, secrets, given) {
  const binding = originBinding(raw);
  const url = raw.vars?.ORIGIN_URL;
  if (!binding && !url) {
    throw new Stop(
      'Gatehouse needs to know where your MCP server is. The ways that expose nothing (docs/origin.md):\n' +
        '  --origin-vpc-service <id> --origin-url http://127.0.0.1:8000/mcp   (a Workers VPC service over your tunnel)\n' +
        '  --origin-service <worker name>                                       (an MCP server that is a Worker)\n' +
        'or a public tunnel hostname: --origin-url https://mcp-origin.example.com/mcp (with a lock, see --help).\n' +
        'It is remembered in gatehouse.config.json. Nothing was changed.',
    );
  }
  if (binding) {
    const what = binding.service ? `service binding to the Worker ${binding.service}` : `Workers VPC service ${binding.service_id}`;
    return { describe: `through the ${what}${url ? ` (as ${url})` : ''}; no public hostname` };
  }
  if (!/^https:/.test(url)) {
    throw new Stop(`ORIGIN_URL ${url} is not https: a Worker reaches a plain-http origin only through a Workers VPC service (--origin-vpc-service). Nothing was changed.`);
  }
  const has = (n) => secrets.includes(n) || given.includes(n);
  const locks = [];
  if (has('ORIGIN_ACCESS_CLIENT_ID') && has('ORIGIN_ACCESS_CLIENT_SECRET')) locks.push('a Cloudflare Access service token');
  if (has('ORIGIN_SHARED_SECRET')) locks.push('a shared secret header');
  if (locks.length) return { describe: `${url}, locked by ${locks.join(' and ')}` };
  if (settings.open_origin) return { describe: `${url}, OPEN: anyone who finds this URL reaches your MCP server (--open-origin)`, open: true };
  throw new Stop(
    `ORIGIN_URL ${url} is public and nothing locks it to Gatehouse: anyone who finds that hostname could use your\n` +
      'MCP server without signing in. Choose one (docs/origin.md), then run this again. Nothing was changed.\n' +
      '  - reach it without a public hostname: a Workers VPC service (--origin-vpc-service <id>);\n' +
      '  - protect the hostname with Cloudflare Access (a self-hosted application whose policy action is\n' +
      '    Service Auth) and give Gatehouse its service token: GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID=<id>.access\n' +
      '    GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET=<secret> npm run deploy;\n' +
      '  - have the origin (or a proxy before it) check a header: GATEHOUSE_ORIGIN_SHARED_SECRET=<16+ characters>;\n' +
      '  - or accept an open origin: npm run deploy -- --open-origin',
  );
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

/** The D1 database for binding DB: by the saved id, else by name. */
function findDatabase(configPath, db, savedId) {
  const list = parseJsonOutput(mustWrangler(['d1', 'list', '--json'], { configPath }).stdout);
  if (!Array.isArray(list)) throw new Stop('`wrangler d1 list --json` did not print a JSON list');
  const configured = savedId && savedId !== PLACEHOLDER_DB_ID ? savedId : undefined;
  if (configured) {
    const hit = list.find((d) => d.uuid === configured);
    if (!hit) {
      throw new Stop(
        `gatehouse.config.json names D1 database ${configured}, which this Cloudflare account does not have ` +
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
  requireNode();
  ensureDependencies();
  const opts = options();
  const inst = installation(opts.config);
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !opts.yes && !opts.passwordFromStdin;
  if (!interactive && !opts.yes) {
    throw new Stop('no terminal to ask questions on (or the password comes from stdin): pass --yes to deploy without questions');
  }

  // ---- local checks: nothing needs the network yet --------------------------------
  const template = parseWranglerConfig(inst.template);
  const db = databaseOf(template, inst.template);
  const distDir = dirname(resolve(inst.dir, template.main ?? 'dist/index.js'));
  const dist = inspectDist(ROOT, distDir);
  if (!dist.ok) {
    throw new Stop(`the committed build in ${distDir} is damaged (${dist.problems.join('; ')}). Restore it with \`git checkout -- dist\` (or rebuild: npm run build). Nothing was changed.`);
  }
  if (dist.stale) {
    warn('the Rust sources differ from those dist/ was built from: this deploys the committed build, not your changes to src/. To deploy them, run npm run build first (needs the Rust toolchain).');
  }
  const saved = readSettings(inst);
  // Values an earlier deploy wrote into wrangler.toml: from the template itself, or from the
  // copy named by --adopt (the template having been restored for `git pull`).
  const adopted = legacyValues(opts.adopt ? parseWranglerConfig(resolve(opts.adopt)) : template, saved);
  const settings = requested(opts, mergeSettings(saved, adopted));
  const given = GIVEN_SECRETS.filter((n) => process.env[`GATEHOUSE_${n}`]);
  if (given.includes('ORIGIN_ACCESS_CLIENT_ID') !== given.includes('ORIGIN_ACCESS_CLIENT_SECRET')) {
    throw new Stop('set both GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID and GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET (the service token\'s two halves), or neither');
  }
  const shared = process.env.GATEHOUSE_ORIGIN_SHARED_SECRET;
  if (shared !== undefined && (shared.length < MIN_SHARED_SECRET || !/^[\x21-\x7e]+$/.test(shared))) {
    throw new Stop(`GATEHOUSE_ORIGIN_SHARED_SECRET must be at least ${MIN_SHARED_SECRET} printable ASCII characters without spaces (e.g. openssl rand -hex 32)`);
  }
  // The combined config as it will be deployed (written again once the database id is known).
  let { path: configPath, raw } = renderConfig(inst, settings);
  const keyNames = signingKeyNames(raw);

  // ---- read-only checks against Cloudflare -------------------------------------------
  requireLogin(configPath, settings.account_id);
  const existingDb = findDatabase(configPath, db, settings.database_id);
  const { names: secrets } = secretNames(configPath);
  const missingKeys = keyNames.filter((n) => !secrets.includes(n));
  if (raw.vars?.SIGNING_KEYS && missingKeys.length) {
    throw new Stop(
      `SIGNING_KEYS names ${missingKeys.join(', ')}, which the Worker does not have as secret(s). ` +
        'Fix SIGNING_KEYS in gatehouse.config.json (or run npm run rotate-key) first. Nothing was changed.',
    );
  }
  const origin = originLock(raw, settings, secrets, given);
  const needKey = missingKeys.length > 0; // only SIGNING_KEY itself can be missing here
  const needPassword = !secrets.includes('OWNER_PASSWORD');
  const needSetupCode = !secrets.includes('PASSKEY_SETUP_CODE');
  const passwordGiven = opts.passwordFromStdin || process.env.GATEHOUSE_OWNER_PASSWORD !== undefined;

  say('\nPlan:');
  if (Object.keys(adopted).length) say(`  move ${Object.keys({ ...adopted, ...adopted.vars }).filter((k) => k !== 'vars').join(', ')} from ${opts.adopt ?? 'wrangler.toml'} into ${inst.settingsPath}`);
  say(`  D1 database ${db.database_name}: ${existingDb ? `exists (${existingDb})` : 'create'}`);
  say(`  origin: ${origin.describe}`);
  if (settings.vars.PUBLIC_URL) say(`  PUBLIC_URL = ${settings.vars.PUBLIC_URL}`);
  if (opts.domain) say(`  custom domain ${opts.domain}`);
  say('  apply D1 migrations (remote)');
  say(`  SIGNING_KEY: ${needKey ? 'generate' : 'keep (set)'}`);
  say(`  OWNER_PASSWORD: ${needPassword ? 'set' : passwordGiven ? 'replace with the one given' : 'keep (set)'}`);
  say(`  PASSKEY_SETUP_CODE: ${needSetupCode ? 'generate (printed once)' : 'keep (set)'}`);
  for (const n of given) say(`  ${n}: ${secrets.includes(n) ? 'replace' : 'set'} (from $GATEHOUSE_${n})`);
  say(`  wrangler deploy (the committed build, ${distDir})`);
  if (origin.open) warn('the origin is open (--open-origin): anyone who finds its hostname can use your MCP server without Gatehouse.');
  if (interactive && !(await askYesNo('\nGo ahead?'))) throw new Stop('nothing was changed');

  // Asked before any change, so a cancelled prompt leaves nothing half-done.
  const password = needPassword || passwordGiven ? await ownerPassword(opts, interactive) : undefined;

  // ---- changes -------------------------------------------------------------------------
  const dbId = existingDb ?? createDatabase(configPath, db.database_name);
  settings.database_id = dbId;
  writeSettings(inst, settings);
  say(`${inst.settingsPath}: database_id = ${dbId}`);
  if (Object.keys(adopted).length && !opts.adopt) say('  (moved there from wrangler.toml: `git checkout wrangler.toml` puts the template back)');
  ({ path: configPath, raw } = renderConfig(inst, settings));

  mustWrangler(['d1', 'migrations', 'apply', 'DB', '--remote'], { configPath, live: true });

  if (needKey) putSecret(configPath, 'SIGNING_KEY', newSigningKey());
  if (password) putSecret(configPath, 'OWNER_PASSWORD', password.value);
  const setupCode = needSetupCode ? newSetupCode() : undefined;
  if (setupCode) putSecret(configPath, 'PASSKEY_SETUP_CODE', setupCode);
  for (const n of given) putSecret(configPath, n, process.env[`GATEHOUSE_${n}`]);

  // Captured (then shown) rather than live: without PUBLIC_URL the workers.dev URL it prints is the address.
  say(`\n$ wrangler deploy --config ${configPath}`);
  const deployed = mustWrangler(['deploy'], { configPath });
  process.stdout.write(deployed.stdout);
  process.stderr.write(deployed.stderr);
  const publicUrl = raw.vars?.PUBLIC_URL ?? /https:\/\/[a-z0-9.-]+\.workers\.dev/.exec(deployed.stdout)?.[0];

  say('\nDeployed.');
  if (publicUrl) say(`  MCP connector URL: ${publicUrl}/mcp   <- paste this into claude.ai (docs/clients.md for the others)`);
  else say('  MCP connector URL: https://<the workers.dev URL wrangler printed above>/mcp');
  say(`  Check it from outside: npm run doctor -- ${publicUrl ?? 'https://<your Gatehouse host>'}`);
  if (setupCode) {
    const where = publicUrl ? `${publicUrl}/passkeys/setup` : 'https://<your Gatehouse host>/passkeys/setup';
    say(`\n  Passkey setup code (works once; enrol your first passkey at ${where}):`);
    say(`    ${setupCode}`);
  }
  if (password?.generated) {
    say('\n  Owner password (generated; shown only this once — keep it in your password manager):');
    say(`    ${password.value}`);
  }
}

runMain(main);
