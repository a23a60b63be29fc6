// `npm run deploy` and `npm run rotate-key` against a stubbed wrangler (tests/e2e/fixtures/
// wrangler: a fake Cloudflare account in a state file, every call logged), on a temporary
// copy of wrangler.toml. Plus `wrangler deploy --dry-run` of the real config with the real
// wrangler and the built worker.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

const STUB_DIR = join(ROOT, 'tests/e2e/fixtures');
const TMP = join(ROOT, 'tests/e2e/.tmp');

const scratch = [];
after(() => {
  if (!process.env.GATEHOUSE_E2E_KEEP) for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A scratch directory with a copy of wrangler.toml and the real migrations. */
function workspace(name) {
  const dir = join(TMP, `deploy-${name}-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  scratch.push(dir);
  cpSync(join(ROOT, 'wrangler.toml'), join(dir, 'wrangler.toml'));
  symlinkSync(join(ROOT, 'migrations'), join(dir, 'migrations'));
  const w = {
    dir,
    config: join(dir, 'wrangler.toml'),
    statePath: join(dir, 'stub-state.json'),
    logPath: join(dir, 'stub-calls.jsonl'),
    state: () => JSON.parse(readFileSync(w.statePath, 'utf8')),
    setState: (s) => writeFileSync(w.statePath, JSON.stringify(s)),
    /** wrangler calls since the last clearCalls(), as argv arrays without the trailing --config. */
    calls: () =>
      existsSync(w.logPath)
        ? readFileSync(w.logPath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
        : [],
    clearCalls: () => rmSync(w.logPath, { force: true }),
    toml: () => readFileSync(w.config, 'utf8'),
    /** Runs scripts/<script>.mjs with the stub first on PATH (and named by GATEHOUSE_WRANGLER). */
    run(script, args, { env = {}, input } = {}) {
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts', `${script}.mjs`), '--config', w.config, ...args], {
        cwd: dir,
        input: input ?? '',
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          PATH: `${STUB_DIR}:${process.env.PATH}`,
          GATEHOUSE_WRANGLER: join(STUB_DIR, 'wrangler'),
          WRANGLER_STUB_STATE: w.statePath,
          WRANGLER_STUB_LOG: w.logPath,
          GATEHOUSE_OWNER_PASSWORD: undefined,
          ...env,
        },
      });
      return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
    },
  };
  return w;
}

/** argv of each call, with the `--config <path>` every call carries checked and dropped. */
function commands(w) {
  return w.calls().map(({ argv }) => {
    const i = argv.indexOf('--config');
    assert.ok(i >= 0 && argv[i + 1] === w.config, `every wrangler call names the copy's config: ${argv.join(' ')}`);
    return [...argv.slice(0, i), ...argv.slice(i + 2)].join(' ');
  });
}

/** No secret the stub holds may appear in any argv, or in the script's output unless allowed. */
function assertNoSecretLeak(w, out, { allowedInOutput = [] } = {}) {
  const secrets = Object.entries(w.state().secrets);
  assert.ok(secrets.length > 0);
  const argvText = w.calls().map((c) => c.argv.join(' ')).join('\n');
  for (const [name, value] of secrets) {
    assert.ok(!argvText.includes(value), `${name} appeared in a wrangler command line`);
    if (!allowedInOutput.includes(name)) assert.ok(!out.includes(value), `${name} appeared in the output`);
  }
}

const ORIGIN = 'https://origin.example.com/mcp';

test('first deploy provisions everything in order; the second changes nothing', () => {
  const w = workspace('first');
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const first = w.run('deploy', ['--yes', '--origin-url', ORIGIN, '--domain', 'mcp.example.com'], {
    env: { GATEHOUSE_OWNER_PASSWORD: password },
  });
  assert.equal(first.status, 0, first.out);
  assert.deepEqual(commands(w), [
    'whoami --json',
    'd1 list --json',
    'secret list --format json',
    'd1 create gatehouse',
    'd1 migrations apply DB --remote',
    'secret put SIGNING_KEY',
    'secret put OWNER_PASSWORD',
    'secret put PASSKEY_SETUP_CODE',
    'deploy',
  ]);
  // Secrets travel on stdin only.
  for (const c of w.calls()) assert.equal(c.stdin, c.argv[0] === 'secret' && c.argv[1] === 'put', c.argv.join(' '));

  const s = w.state();
  assert.equal(s.databases.length, 1);
  const dbId = s.databases[0].uuid;
  assert.match(w.toml(), new RegExp(`^database_id = "${dbId}"$`, 'm'));
  const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort();
  assert.deepEqual(s.databases[0].applied, migrations, 'every migration applied remotely');
  assert.match(s.secrets.SIGNING_KEY, /^[A-Za-z0-9_-]{43}$/, 'a 32-byte base64url seed');
  assert.equal(Buffer.from(s.secrets.SIGNING_KEY, 'base64url').length, 32);
  assert.equal(s.secrets.OWNER_PASSWORD, password);
  const deployed = s.deploys.at(-1);
  assert.equal(deployed.vars.ORIGIN_URL, ORIGIN);
  assert.equal(deployed.vars.PUBLIC_URL, 'https://mcp.example.com');
  assert.match(deployed.routes, /pattern = "mcp\.example\.com", custom_domain = true/);
  assert.deepEqual(deployed.secrets, ['OWNER_PASSWORD', 'PASSKEY_SETUP_CODE', 'SIGNING_KEY'], 'secrets are in place before the deploy');
  assert.match(first.out, /https:\/\/mcp\.example\.com\/mcp/);
  // The passkey setup code: generated, put on stdin (never argv), printed exactly once.
  const setupCode = s.secrets.PASSKEY_SETUP_CODE;
  assert.match(setupCode, /^[A-Za-z0-9_-]{24}$/);
  assert.equal(first.out.split(setupCode).length - 1, 1, 'the setup code is printed once');
  assert.match(first.out, /https:\/\/mcp\.example\.com\/passkeys\/setup/);
  assertNoSecretLeak(w, first.out, { allowedInOutput: ['PASSKEY_SETUP_CODE'] });

  // Second run: no flags, no password: nothing created, nothing re-put, same database.
  w.clearCalls();
  const tomlBefore = w.toml();
  const second = w.run('deploy', ['--yes']);
  assert.equal(second.status, 0, second.out);
  assert.deepEqual(commands(w), [
    'whoami --json',
    'd1 list --json',
    'secret list --format json',
    'd1 migrations apply DB --remote',
    'deploy',
  ]);
  assert.equal(w.toml(), tomlBefore, 'wrangler.toml unchanged');
  const s2 = w.state();
  assert.equal(s2.databases.length, 1);
  assert.deepEqual(s2.secrets, s.secrets, 'existing secrets kept');
  assert.equal(s2.deploys.at(-1).databaseId, dbId);
  assert.equal(s2.deploys.at(-1).vars.ORIGIN_URL, ORIGIN, 'the origin is remembered');
  assertNoSecretLeak(w, second.out);
});

test('a missing Cloudflare login stops before anything else runs', () => {
  const w = workspace('nologin');
  w.setState({ loggedIn: false });
  const before = w.toml();
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw' } });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /not logged in to Cloudflare/);
  assert.match(r.out, /wrangler login/);
  assert.match(r.out, /nothing was changed/i);
  assert.deepEqual(commands(w), ['whoami --json']);
  assert.equal(w.toml(), before);
  assert.deepEqual(w.state().databases, []);

  const rot = w.run('rotate-key', []);
  assert.equal(rot.status, 1, rot.out);
  assert.deepEqual(commands(w), ['whoami --json', 'whoami --json']);
});

test('a login with several accounts stops until CLOUDFLARE_ACCOUNT_ID says which', () => {
  const w = workspace('accounts');
  w.setState({ accounts: [{ id: 'a1', name: 'Home' }, { id: 'a2', name: 'Work' }] });
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw', CLOUDFLARE_ACCOUNT_ID: undefined } });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /CLOUDFLARE_ACCOUNT_ID/);
  assert.match(r.out, /a2\s+Work/);
  assert.deepEqual(commands(w), ['whoami --json']);
  const ok = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw', CLOUDFLARE_ACCOUNT_ID: 'a2' } });
  assert.equal(ok.status, 0, ok.out);
  assert.equal(commands(w).at(-1), 'deploy');
});

test('bad input stops before any wrangler call, with a message naming it', () => {
  const w = workspace('input');
  const cases = [
    [['--yes'], /--origin-url/],
    [['--yes', '--origin-url', 'origin.example.com'], /--origin-url must be an absolute URL/],
    [['--yes', '--origin-url', ORIGIN, '--public-url', 'https://mcp.example.com/mcp'], /--public-url must be a bare origin/],
    [['--yes', '--origin-url', ORIGIN, '--domain', 'not a host'], /--domain must be a host name/],
    [['--origin-url', ORIGIN], /pass --yes/],
  ];
  for (const [args, message] of cases) {
    const r = w.run('deploy', args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, message);
  }
  const short = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'short' } });
  assert.equal(short.status, 1);
  assert.match(short.out, /at least 8 characters/);
  // The short password is refused before any change (only read-only calls ran).
  assert.deepEqual(commands(w), ['whoami --json', 'd1 list --json', 'secret list --format json']);
  assert.deepEqual(w.state().databases, []);
});

test('without a given password one is generated and printed exactly once; --owner-password-stdin works', () => {
  const w = workspace('genpw');
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN]);
  assert.equal(r.status, 0, r.out);
  const pw = w.state().secrets.OWNER_PASSWORD;
  assert.ok(pw.length >= 16);
  assert.equal(r.out.split(pw).length - 1, 1, 'printed once');
  assertNoSecretLeak(w, r.out, { allowedInOutput: ['OWNER_PASSWORD', 'PASSKEY_SETUP_CODE'] });

  // An explicitly given password replaces the existing one; nothing else is re-put.
  w.clearCalls();
  const again = w.run('deploy', ['--yes', '--owner-password-stdin'], { input: 'a new owner password\n' });
  assert.equal(again.status, 0, again.out);
  assert.equal(w.state().secrets.OWNER_PASSWORD, 'a new owner password');
  assert.deepEqual(commands(w).filter((c) => c.startsWith('secret put')), ['secret put OWNER_PASSWORD']);
  assert.ok(!again.out.includes('a new owner password'));

  // An Access service token for the origin: both halves, as secrets, never echoed.
  w.clearCalls();
  const half = w.run('deploy', ['--yes'], { env: { GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID: 'abc.access' } });
  assert.equal(half.status, 1, half.out);
  assert.match(half.out, /both/);
  assert.deepEqual(commands(w), []);
  const access = { GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID: 'abc123.access', GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET: randomBytes(24).toString('hex') };
  const withAccess = w.run('deploy', ['--yes'], { env: access });
  assert.equal(withAccess.status, 0, withAccess.out);
  assert.deepEqual(commands(w).filter((c) => c.startsWith('secret put')), ['secret put ORIGIN_ACCESS_CLIENT_ID', 'secret put ORIGIN_ACCESS_CLIENT_SECRET']);
  assert.equal(w.state().secrets.ORIGIN_ACCESS_CLIENT_SECRET, access.GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET);
  assertNoSecretLeak(w, withAccess.out);
});

test('an existing database is found by name and its id written; a foreign id stops', () => {
  const w = workspace('existing');
  const uuid = '11111111-2222-4333-8444-555555555555';
  w.setState({ databases: [{ uuid, name: 'gatehouse', applied: [] }] });
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw' } });
  assert.equal(r.status, 0, r.out);
  assert.ok(!commands(w).some((c) => c.startsWith('d1 create')));
  assert.match(w.toml(), new RegExp(`^database_id = "${uuid}"$`, 'm'));

  const other = workspace('foreign');
  other.setState({ databases: [] });
  writeFileSync(other.config, other.toml().replace(/^database_id = ".*"$/m, `database_id = "${uuid}"`));
  const f = other.run('deploy', ['--yes', '--origin-url', ORIGIN]);
  assert.equal(f.status, 1, f.out);
  assert.match(f.out, /does not have/);
  assert.ok(!commands(other).some((c) => /create|put|deploy|apply/.test(c)));
});

test('rotate-key adds a key without touching the old one (audited with its kid); --retire drops it after the TTL (or --force)', async () => {
  const w = workspace('rotate');
  assert.equal(w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw' } }).status, 0);
  const original = w.state().secrets.SIGNING_KEY;

  w.clearCalls();
  const r = w.run('rotate-key', []);
  assert.equal(r.status, 0, r.out);
  const cmds = commands(w);
  assert.equal(cmds.length, 5, cmds.join('\n'));
  assert.deepEqual([cmds[0], cmds[1], cmds[3]], ['whoami --json', 'secret list --format json', 'deploy']);
  const name = /^secret put (SIGNING_KEY_\d{8}_\d{6})$/.exec(cmds[2])?.[1];
  assert.ok(name, cmds[2]);
  assert.ok(cmds[4].startsWith('d1 execute DB --remote --command INSERT INTO audit_events'), cmds[4]);
  const s = w.state();
  // The audit event names the new key and its kid: the one the worker derives from the seed
  // (the JWK thumbprint-style id of src/oauth/access_token.rs), never the seed itself.
  const { createPrivateKey, createPublicKey, createHash } = await import('node:crypto');
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(s.secrets[name], 'base64url')]);
  const x = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x;
  const kid = createHash('sha256').update(Buffer.from(x, 'base64url')).digest().subarray(0, 12).toString('base64url');
  assert.match(s.audit.at(-1), new RegExp(`'key\\.rotate', json_object\\('name', '${name}', 'kid', '${kid}', 'previous', 'SIGNING_KEY'\\)`));
  assert.ok(!s.audit.at(-1).includes(s.secrets[name]), 'no key material in the audit event');
  assert.equal(s.secrets.SIGNING_KEY, original, 'the old key is untouched');
  assert.match(s.secrets[name], /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(s.secrets[name], original);
  assert.equal(s.deploys.at(-1).vars.SIGNING_KEYS, `${name} SIGNING_KEY`);
  assert.match(w.toml(), new RegExp(`^SIGNING_KEYS = "${name} SIGNING_KEY"$`, 'm'));
  assert.match(r.out, /--retire/);
  assertNoSecretLeak(w, r.out);

  // A later deploy keeps both keys and generates nothing.
  w.clearCalls();
  assert.equal(w.run('deploy', ['--yes']).status, 0);
  assert.ok(!commands(w).some((c) => c.startsWith('secret put')));

  // Too early to retire: refused, nothing changed.
  w.clearCalls();
  const early = w.run('rotate-key', ['--retire']);
  assert.equal(early.status, 1, early.out);
  assert.match(early.out, /ACCESS_TOKEN_TTL/);
  assert.match(early.out, /--force/);
  assert.deepEqual(commands(w), ['whoami --json']);
  assert.ok('SIGNING_KEY' in w.state().secrets);

  const forced = w.run('rotate-key', ['--retire', '--force']);
  assert.equal(forced.status, 0, forced.out);
  assert.match(forced.out, /stop working/);
  assert.deepEqual(commands(w).slice(1, 4), ['whoami --json', 'deploy', 'secret delete SIGNING_KEY']);
  assert.match(w.state().audit.at(-1), new RegExp(`'key\\.retire', json_object\\('current', '${name}', 'retired', 'SIGNING_KEY'\\)`));
  const after = w.state();
  assert.deepEqual(Object.keys(after.secrets).sort(), ['OWNER_PASSWORD', 'PASSKEY_SETUP_CODE', name].sort());
  assert.equal(after.deploys.at(-1).vars.SIGNING_KEYS, name);
  assert.ok(after.deploys.at(-1).secrets.includes('SIGNING_KEY'), 'the deploy without the old key came before its deletion');

  // Nothing left to retire; a redeploy still needs no new key.
  w.clearCalls();
  const none = w.run('rotate-key', ['--retire']);
  assert.equal(none.status, 0, none.out);
  assert.match(none.out, /nothing to retire/);
  assert.equal(w.run('deploy', ['--yes']).status, 0);
  assert.ok(!commands(w).some((c) => c.startsWith('secret put')));
});

test('wrangler deploy --dry-run of the real config succeeds with the built worker', () => {
  const out = join(TMP, `dry-run-${process.pid}-${randomBytes(3).toString('hex')}`);
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', out, '--config', join(ROOT, 'wrangler.toml')],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 600_000,
      env: {
        ...process.env,
        CI: 'true',
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_SEND_ERROR_REPORTS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_LOG_PATH: join(out, 'logs'),
      },
    },
  );
  const text = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, text);
  assert.match(text, /--dry-run: exiting now/);
  assert.match(text, /env\.DB \(gatehouse\)/, 'the D1 binding is in the bundle');
  assert.ok(existsSync(join(out, 'shim.js')) || existsSync(join(out, 'index.js')) || existsSync(join(out, 'shim.mjs')), `bundle written to ${out}`);
  rmSync(out, { recursive: true, force: true });
});
