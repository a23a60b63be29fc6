// `npm run deploy` and `npm run rotate-key` against a stubbed wrangler (tests/e2e/fixtures/
// wrangler: a fake Cloudflare account in a state file, every call logged, every upload hashed),
// on a temporary copy of wrangler.toml with the committed build (dist/). Plus `wrangler deploy
// --dry-run` of the real config with the real wrangler.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

const STUB_DIR = join(ROOT, 'tests/e2e/fixtures');
const STUB = join(STUB_DIR, 'wrangler');
const TMP = join(ROOT, 'tests/e2e/.tmp');

const scratch = [];
after(() => {
  if (!process.env.GATEHOUSE_E2E_KEEP) for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A scratch installation: a copy of wrangler.toml, the real migrations and the committed dist/. */
function workspace(name) {
  const dir = join(TMP, `deploy-${name}-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  scratch.push(dir);
  cpSync(join(ROOT, 'wrangler.toml'), join(dir, 'wrangler.toml'));
  symlinkSync(join(ROOT, 'migrations'), join(dir, 'migrations'));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'));
  const w = {
    dir,
    config: join(dir, 'wrangler.toml'),
    generated: join(dir, '.gatehouse/wrangler.json'),
    settingsPath: join(dir, 'gatehouse.config.json'),
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
    settings: () => (existsSync(w.settingsPath) ? JSON.parse(readFileSync(w.settingsPath, 'utf8')) : undefined),
    stubEnv: () => ({ WRANGLER_STUB_STATE: w.statePath, WRANGLER_STUB_LOG: w.logPath }),
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
          GATEHOUSE_WRANGLER: STUB,
          ...w.stubEnv(),
          GATEHOUSE_OWNER_PASSWORD: undefined,
          GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID: undefined,
          GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET: undefined,
          GATEHOUSE_ORIGIN_SHARED_SECRET: undefined,
          ...env,
        },
      });
      return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
    },
  };
  return w;
}

/** argv of each call, with the `--config <generated config>` every call carries checked and dropped. */
function commands(w) {
  return w.calls().map(({ argv }) => {
    const i = argv.indexOf('--config');
    assert.ok(i >= 0 && argv[i + 1] === w.generated, `every wrangler call names the generated config: ${argv.join(' ')}`);
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

/** The committed build: sha256 of dist/'s files, as on disk and as dist/BUILD.json records them. */
function committedBuild() {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'dist/BUILD.json'), 'utf8'));
  const files = {};
  for (const f of ['index.js', 'index_bg.wasm']) {
    files[f] = createHash('sha256').update(readFileSync(join(ROOT, 'dist', f))).digest('hex');
    assert.equal(files[f], manifest.files[f].sha256, `dist/${f} is what dist/BUILD.json says`);
  }
  return files;
}

/** npm's own entry point (npm is a Node program): the one running us, else the `npm` on PATH. */
function npmCliPath() {
  if (process.env.npm_execpath?.endsWith('npm-cli.js')) return process.env.npm_execpath;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, 'npm');
    if (existsSync(p) && realpathSync(p).endsWith('npm-cli.js')) return realpathSync(p);
  }
  throw new Error('npm not found on PATH');
}

const ORIGIN = 'https://origin.example.com/mcp';
const VPC = '0191dce4-9ab4-7fce-b660-8e5dec5172da';
/** A lock for the tests that are not about the origin: a shared secret the origin checks. */
const LOCK = { GATEHOUSE_ORIGIN_SHARED_SECRET: 'origin-shared-secret-0123456789' };

test('first deploy provisions everything in order and uploads the committed build; the second changes nothing', () => {
  const w = workspace('first');
  const template = w.toml();
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const first = w.run('deploy', ['--yes', '--origin-vpc-service', VPC, '--origin-url', 'http://127.0.0.1:8000/mcp', '--domain', 'mcp.example.com'], {
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
  // The installation's values are in the untracked settings file; the template is untouched.
  assert.equal(w.toml(), template, 'wrangler.toml is not written');
  const settings = w.settings();
  assert.equal(settings.database_id, dbId);
  assert.deepEqual(settings.routes, [{ pattern: 'mcp.example.com', custom_domain: true }]);
  assert.deepEqual(settings.vpc_services, [{ binding: 'ORIGIN', service_id: VPC }]);
  assert.equal(settings.vars.ORIGIN_URL, 'http://127.0.0.1:8000/mcp');
  assert.equal(settings.vars.PUBLIC_URL, 'https://mcp.example.com');
  const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort();
  assert.deepEqual(s.databases[0].applied, migrations, 'every migration applied remotely');
  assert.match(s.secrets.SIGNING_KEY, /^[A-Za-z0-9_-]{43}$/, 'a 32-byte base64url seed');
  assert.equal(Buffer.from(s.secrets.SIGNING_KEY, 'base64url').length, 32);
  assert.equal(s.secrets.OWNER_PASSWORD, password);
  const deployed = s.deploys.at(-1);
  assert.equal(deployed.vars.ORIGIN_URL, 'http://127.0.0.1:8000/mcp');
  assert.equal(deployed.vars.PUBLIC_URL, 'https://mcp.example.com');
  assert.equal(deployed.vars.SCOPES, 'mcp', "the template's vars are deployed too");
  assert.deepEqual(deployed.routes, [{ pattern: 'mcp.example.com', custom_domain: true }]);
  assert.deepEqual(deployed.bindings, [{ binding: 'ORIGIN', service_id: VPC }]);
  assert.deepEqual(deployed.observability, { enabled: true }, 'Workers Logs on');
  assert.deepEqual(deployed.uploaded, committedBuild(), 'what is uploaded is exactly the committed build');
  assert.deepEqual(deployed.secrets, ['OWNER_PASSWORD', 'PASSKEY_SETUP_CODE', 'SIGNING_KEY'], 'secrets are in place before the deploy');
  assert.match(first.out, /MCP connector URL: https:\/\/mcp\.example\.com\/mcp/);
  assert.match(first.out, /npm run doctor -- https:\/\/mcp\.example\.com/);
  assert.match(first.out, /Workers VPC service/);
  // The passkey setup code: generated, put on stdin (never argv), printed exactly once.
  const setupCode = s.secrets.PASSKEY_SETUP_CODE;
  assert.match(setupCode, /^[A-Za-z0-9_-]{24}$/);
  assert.equal(first.out.split(setupCode).length - 1, 1, 'the setup code is printed once');
  assert.match(first.out, /https:\/\/mcp\.example\.com\/passkeys\/setup/);
  assertNoSecretLeak(w, first.out, { allowedInOutput: ['PASSKEY_SETUP_CODE'] });

  // Second run: no flags, no password: nothing created, nothing re-put, same database.
  w.clearCalls();
  const settingsBefore = readFileSync(w.settingsPath, 'utf8');
  const second = w.run('deploy', ['--yes']);
  assert.equal(second.status, 0, second.out);
  assert.deepEqual(commands(w), [
    'whoami --json',
    'd1 list --json',
    'secret list --format json',
    'd1 migrations apply DB --remote',
    'deploy',
  ]);
  assert.equal(readFileSync(w.settingsPath, 'utf8'), settingsBefore, 'settings unchanged');
  assert.equal(w.toml(), template);
  const s2 = w.state();
  assert.equal(s2.databases.length, 1);
  assert.deepEqual(s2.secrets, s.secrets, 'existing secrets kept');
  assert.equal(s2.deploys.at(-1).databaseId, dbId);
  assert.equal(s2.deploys.at(-1).vars.ORIGIN_URL, 'http://127.0.0.1:8000/mcp', 'the origin is remembered');
  assertNoSecretLeak(w, second.out);
});

test('npm run deploy needs nothing on PATH but Node and wrangler: no bash, cargo, rustc or python', () => {
  const w = workspace('pathonly');
  const bin = join(w.dir, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(STUB, join(bin, 'wrangler'));
  const env = {
    HOME: process.env.HOME,
    PATH: bin,
    ...w.stubEnv(),
    GATEHOUSE_OWNER_PASSWORD: 'long enough pw',
    ...LOCK,
  };
  for (const tool of ['bash', 'sh', 'cargo', 'rustc', 'python3', 'python', 'env']) {
    assert.ok(!existsSync(join(bin, tool)), `${tool} is not on PATH`);
  }
  // As the README has it: `npm run deploy`. npm is itself a Node program (run here with this
  // Node). It runs a package script's line with a shell (sh; cmd.exe on Windows), named here by
  // absolute path so that PATH needs no shell either; npm adds node_modules/.bin in front.
  const npmCli = npmCliPath();
  const viaNpm = spawnSync(process.execPath, [npmCli, 'run', '--silent', 'deploy', '--', '--config', w.config, '--yes', '--origin-url', ORIGIN], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    // node_modules/.bin, first on PATH under npm, holds the real wrangler: name the stub.
    env: { ...env, GATEHOUSE_WRANGLER: STUB, npm_config_script_shell: '/bin/sh' },
  });
  assert.equal(viaNpm.status, 0, `${viaNpm.stdout}\n${viaNpm.stderr}`);
  assert.equal(commands(w).at(-1), 'deploy');
  assert.deepEqual(w.state().deploys.at(-1).uploaded, committedBuild(), 'the committed build is uploaded');

  // And without npm: the wrangler found on PATH (the stub, a `#!/usr/bin/env node` script) is
  // started with this Node, so not even `env` has to be on PATH.
  w.clearCalls();
  const direct = spawnSync(process.execPath, [join(ROOT, 'scripts/deploy.mjs'), '--config', w.config, '--yes'], {
    cwd: w.dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { HOME: env.HOME, PATH: bin, ...w.stubEnv() },
  });
  assert.equal(direct.status, 0, `${direct.stdout}\n${direct.stderr}`);
  assert.deepEqual(commands(w), ['whoami --json', 'd1 list --json', 'secret list --format json', 'd1 migrations apply DB --remote', 'deploy']);
});

test('a public origin without an Access service token or shared secret is refused unless --open-origin', () => {
  const w = workspace('lock');
  const pw = { GATEHOUSE_OWNER_PASSWORD: 'long enough pw' };
  const open = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: pw });
  assert.equal(open.status, 1, open.out);
  assert.match(open.out, /public and nothing locks it/);
  for (const way of [/--origin-vpc-service/, /GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID/, /Service Auth/, /GATEHOUSE_ORIGIN_SHARED_SECRET/, /--open-origin/, /docs\/origin\.md/]) {
    assert.match(open.out, way);
  }
  assert.match(open.out, /Nothing was changed/);
  assert.deepEqual(commands(w), ['whoami --json', 'd1 list --json', 'secret list --format json'], 'refused after the read-only checks only');
  assert.deepEqual(w.state().databases, []);
  assert.equal(w.settings(), undefined, 'nothing saved');

  // A plain-http origin can only be reached through a VPC service.
  w.clearCalls();
  const http = w.run('deploy', ['--yes', '--origin-url', 'http://origin.example.com/mcp'], { env: { ...pw, ...LOCK } });
  assert.equal(http.status, 1, http.out);
  assert.match(http.out, /not https/);
  assert.ok(!commands(w).some((c) => /create|put|deploy|apply/.test(c)));

  // An Access service token locks it: both halves become secrets.
  const access = { GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID: 'abc123.access', GATEHOUSE_ORIGIN_ACCESS_CLIENT_SECRET: randomBytes(24).toString('hex') };
  w.clearCalls();
  const locked = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { ...pw, ...access } });
  assert.equal(locked.status, 0, locked.out);
  assert.match(locked.out, /locked by a Cloudflare Access service token/);
  assert.deepEqual(commands(w).filter((c) => c.startsWith('secret put ORIGIN')), ['secret put ORIGIN_ACCESS_CLIENT_ID', 'secret put ORIGIN_ACCESS_CLIENT_SECRET']);
  // Later deploys find the lock among the Worker's secrets.
  assert.equal(w.run('deploy', ['--yes']).status, 0);
  assertNoSecretLeak(w, locked.out, { allowedInOutput: ['PASSKEY_SETUP_CODE'] });

  // A shared secret locks it too (and must be long enough).
  const w2 = workspace('lock-shared');
  const short = w2.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { ...pw, GATEHOUSE_ORIGIN_SHARED_SECRET: 'short' } });
  assert.equal(short.status, 1, short.out);
  assert.match(short.out, /at least 16/);
  assert.deepEqual(commands(w2), []);
  const shared = w2.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { ...pw, ...LOCK } });
  assert.equal(shared.status, 0, shared.out);
  assert.equal(w2.state().secrets.ORIGIN_SHARED_SECRET, LOCK.GATEHOUSE_ORIGIN_SHARED_SECRET);
  assert.ok(!shared.out.includes(LOCK.GATEHOUSE_ORIGIN_SHARED_SECRET));

  // --open-origin: the owner's explicit choice, remembered and warned about on every deploy.
  const w3 = workspace('lock-open');
  const chosen = w3.run('deploy', ['--yes', '--origin-url', ORIGIN, '--open-origin'], { env: pw });
  assert.equal(chosen.status, 0, chosen.out);
  assert.match(chosen.out, /OPEN/);
  assert.equal(w3.settings().open_origin, true);
  const again = w3.run('deploy', ['--yes']);
  assert.equal(again.status, 0, again.out);
  assert.match(again.out, /warning: the origin is open/);

  // A service binding exposes nothing: no lock needed.
  const w4 = workspace('lock-service');
  const svc = w4.run('deploy', ['--yes', '--origin-service', 'my-mcp-server'], { env: pw });
  assert.equal(svc.status, 0, svc.out);
  assert.deepEqual(w4.state().deploys.at(-1).bindings, [{ binding: 'ORIGIN', service: 'my-mcp-server' }]);
});

test('values an earlier version wrote into wrangler.toml move into gatehouse.config.json', () => {
  const w = workspace('legacy');
  const uuid = '11111111-2222-4333-8444-555555555555';
  w.setState({ databases: [{ uuid, name: 'gatehouse', applied: [] }], workerExists: true, secrets: { SIGNING_KEY: 'k'.repeat(43), OWNER_PASSWORD: 'x'.repeat(12), PASSKEY_SETUP_CODE: 'c'.repeat(24), ORIGIN_SHARED_SECRET: 's'.repeat(20) } });
  writeFileSync(
    w.config,
    w.toml()
      .replace(/^database_id = ".*"$/m, `database_id = "${uuid}"`)
      .replace(/^(compatibility_date = .*)$/m, '$1\nroutes = [{ pattern = "mcp.example.com", custom_domain = true }]')
      .replace(/^\[vars\]$/m, `[vars]\nORIGIN_URL = "${ORIGIN}"\nPUBLIC_URL = "https://mcp.example.com"`),
  );
  const r = w.run('deploy', ['--yes']);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /move database_id, routes, ORIGIN_URL, PUBLIC_URL from wrangler\.toml/);
  assert.match(r.out, /git checkout wrangler\.toml/);
  const s = w.settings();
  assert.equal(s.database_id, uuid);
  assert.equal(s.vars.ORIGIN_URL, ORIGIN);
  assert.equal(s.vars.PUBLIC_URL, 'https://mcp.example.com');
  assert.deepEqual(s.routes, [{ pattern: 'mcp.example.com', custom_domain: true }]);
  assert.ok(!commands(w).some((c) => c.startsWith('d1 create')), 'the existing database is kept');

  // With the template restored (`git checkout wrangler.toml`), the next deploy is the same.
  const mine = readFileSync(w.config, 'utf8');
  cpSync(join(ROOT, 'wrangler.toml'), w.config);
  w.clearCalls();
  const next = w.run('deploy', ['--yes']);
  assert.equal(next.status, 0, next.out);
  assert.equal(w.state().deploys.at(-1).vars.ORIGIN_URL, ORIGIN);
  assert.equal(w.state().deploys.at(-1).databaseId, uuid);

  // Or: the owner's copy kept aside for the pull, its values taken with --adopt.
  const w2 = workspace('legacy-adopt');
  w2.setState(w.state());
  writeFileSync(join(w2.dir, 'wrangler.toml.mine'), mine);
  const adopted = w2.run('deploy', ['--yes', '--adopt', join(w2.dir, 'wrangler.toml.mine')]);
  assert.equal(adopted.status, 0, adopted.out);
  assert.match(adopted.out, /from \S*wrangler\.toml\.mine into/);
  assert.equal(w2.settings().database_id, uuid);
  assert.equal(w2.settings().vars.ORIGIN_URL, ORIGIN);
  assert.equal(w2.toml(), readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'));
});

test('a damaged committed build is refused before anything else; a bad settings file is named', () => {
  const w = workspace('damaged');
  rmSync(join(w.dir, 'dist'));
  mkdirSync(join(w.dir, 'dist'));
  for (const f of ['index.js', 'BUILD.json']) cpSync(join(ROOT, 'dist', f), join(w.dir, 'dist', f));
  const wasm = readFileSync(join(ROOT, 'dist/index_bg.wasm'));
  wasm[wasm.length - 1] ^= 1;
  writeFileSync(join(w.dir, 'dist/index_bg.wasm'), wasm);
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: LOCK });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /index_bg\.wasm does not match BUILD\.json/);
  assert.match(r.out, /git checkout -- dist/);
  assert.deepEqual(w.calls(), []);

  const w2 = workspace('badsettings');
  writeFileSync(w2.settingsPath, JSON.stringify({ database_idd: 'x' }));
  const b = w2.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: LOCK });
  assert.equal(b.status, 1, b.out);
  assert.match(b.out, /unknown key "database_idd"/);
  assert.deepEqual(w2.calls(), []);
});

test('a missing Cloudflare login stops before anything else runs', () => {
  const w = workspace('nologin');
  w.setState({ loggedIn: false });
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw', ...LOCK } });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /not logged in to Cloudflare/);
  assert.match(r.out, /wrangler login/);
  assert.match(r.out, /nothing was changed/i);
  assert.deepEqual(commands(w), ['whoami --json']);
  assert.equal(w.settings(), undefined);
  assert.deepEqual(w.state().databases, []);

  const rot = w.run('rotate-key', []);
  assert.equal(rot.status, 1, rot.out);
  assert.deepEqual(commands(w), ['whoami --json', 'whoami --json']);
});

test('a login with several accounts stops until CLOUDFLARE_ACCOUNT_ID says which', () => {
  const w = workspace('accounts');
  w.setState({ accounts: [{ id: 'a1', name: 'Home' }, { id: 'a2', name: 'Work' }] });
  const env = { GATEHOUSE_OWNER_PASSWORD: 'long enough pw', CLOUDFLARE_ACCOUNT_ID: undefined, ...LOCK };
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /CLOUDFLARE_ACCOUNT_ID/);
  assert.match(r.out, /a2\s+Work/);
  assert.deepEqual(commands(w), ['whoami --json']);
  const ok = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { ...env, CLOUDFLARE_ACCOUNT_ID: 'a2' } });
  assert.equal(ok.status, 0, ok.out);
  assert.equal(commands(w).at(-1), 'deploy');
});

test('bad input stops before any wrangler call, with a message naming it', () => {
  const w = workspace('input');
  const cases = [
    [['--yes'], /where your MCP server is/],
    [['--yes', '--origin-url', 'origin.example.com'], /--origin-url must be an absolute URL/],
    [['--yes', '--origin-url', ORIGIN, '--public-url', 'https://mcp.example.com/mcp'], /--public-url must be a bare origin/],
    [['--yes', '--origin-url', ORIGIN, '--domain', 'not a host'], /--domain must be a host name/],
    [['--yes', '--origin-vpc-service', 'not-a-uuid'], /--origin-vpc-service must be the id/],
    [['--yes', '--origin-service', 'Bad_Name'], /--origin-service must be the name of a Worker/],
    [['--yes', '--origin-service', 'a', '--origin-vpc-service', VPC], /not both/],
    [['--origin-url', ORIGIN], /pass --yes/],
  ];
  for (const [args, message] of cases) {
    const r = w.run('deploy', args, { env: LOCK });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, message);
  }
  assert.deepEqual(commands(w).filter((c) => !['whoami --json', 'd1 list --json', 'secret list --format json'].includes(c)), [], 'only read-only calls');
  w.clearCalls();
  const short = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'short', ...LOCK } });
  assert.equal(short.status, 1);
  assert.match(short.out, /at least 8 characters/);
  // The short password is refused before any change (only read-only calls ran).
  assert.deepEqual(commands(w), ['whoami --json', 'd1 list --json', 'secret list --format json']);
  assert.deepEqual(w.state().databases, []);
});

test('without a given password one is generated and printed exactly once; --owner-password-stdin works', () => {
  const w = workspace('genpw');
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: LOCK });
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

  // Half an Access service token is refused before anything runs.
  w.clearCalls();
  const half = w.run('deploy', ['--yes'], { env: { GATEHOUSE_ORIGIN_ACCESS_CLIENT_ID: 'abc.access' } });
  assert.equal(half.status, 1, half.out);
  assert.match(half.out, /both/);
  assert.deepEqual(commands(w), []);
});

test('an existing database is found by name and its id saved; a foreign id stops', () => {
  const w = workspace('existing');
  const uuid = '11111111-2222-4333-8444-555555555555';
  w.setState({ databases: [{ uuid, name: 'gatehouse', applied: [] }] });
  const r = w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw', ...LOCK } });
  assert.equal(r.status, 0, r.out);
  assert.ok(!commands(w).some((c) => c.startsWith('d1 create')));
  assert.equal(w.settings().database_id, uuid);

  const other = workspace('foreign');
  other.setState({ databases: [] });
  writeFileSync(other.settingsPath, JSON.stringify({ database_id: uuid, vars: { ORIGIN_URL: ORIGIN } }));
  const f = other.run('deploy', ['--yes'], { env: LOCK });
  assert.equal(f.status, 1, f.out);
  assert.match(f.out, /does not have/);
  assert.ok(!commands(other).some((c) => /create|put|deploy|apply/.test(c)));
});

test('rotate-key adds a key without touching the old one (audited with its kid); --retire drops it after the TTL (or --force)', async () => {
  const w = workspace('rotate');
  assert.equal(w.run('deploy', ['--yes', '--origin-url', ORIGIN], { env: { GATEHOUSE_OWNER_PASSWORD: 'long enough pw', ...LOCK } }).status, 0);
  const original = w.state().secrets.SIGNING_KEY;
  const template = w.toml();

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
  // (the JWK thumbprint-style id of src/base/signing_key.rs), never the seed itself.
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(s.secrets[name], 'base64url')]);
  const x = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x;
  const kid = createHash('sha256').update(Buffer.from(x, 'base64url')).digest().subarray(0, 12).toString('base64url');
  assert.match(s.audit.at(-1), new RegExp(`'key\\.rotate', json_object\\('name', '${name}', 'kid', '${kid}', 'previous', 'SIGNING_KEY'\\)`));
  assert.ok(!s.audit.at(-1).includes(s.secrets[name]), 'no key material in the audit event');
  assert.equal(s.secrets.SIGNING_KEY, original, 'the old key is untouched');
  assert.match(s.secrets[name], /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(s.secrets[name], original);
  assert.equal(s.deploys.at(-1).vars.SIGNING_KEYS, `${name} SIGNING_KEY`);
  assert.equal(w.settings().vars.SIGNING_KEYS, `${name} SIGNING_KEY`, 'kept in the settings file');
  assert.equal(w.toml(), template, 'not in wrangler.toml');
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
  assert.deepEqual(Object.keys(after.secrets).sort(), ['OWNER_PASSWORD', 'PASSKEY_SETUP_CODE', 'ORIGIN_SHARED_SECRET', name].sort());
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

test('wrangler deploy --dry-run of the real config succeeds with the committed build', () => {
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
  assert.ok(readdirSync(out).some((f) => f.endsWith('.wasm')), `the wasm is in the bundle written to ${out}`);
  rmSync(out, { recursive: true, force: true });
});
