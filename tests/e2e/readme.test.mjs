// The README's commands, run in order in a fresh copy of the repository with nothing on PATH
// but Node: `npm ci`, `npm run dev` (then the MCP TypeScript SDK connects through it with the
// password the README gives), and the Cloudflare steps against the stubbed wrangler
// (tests/e2e/fixtures/wrangler) in place of the real one: `npx wrangler login`, `npx wrangler vpc
// service create`, `npm run deploy`, and `npm run doctor` (pointed at the local Gatehouse, the
// README's host not being reachable from here). `cloudflared` runs on the owner's server and is
// not run here.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ROOT, freePort } from './harness.mjs';
import { approveAsOwner } from './owner.mjs';
import { sdkConnect, sdkProvider } from './sdk_client.mjs';

const STUB = join(ROOT, 'tests/e2e/fixtures/wrangler');
const dir = join(ROOT, 'tests/e2e/.tmp', `readme-${process.pid}-${randomBytes(3).toString('hex')}`);
const clone = join(dir, 'gatehouse');
const children = [];
after(() => {
  for (const c of children) if (c.exitCode === null) process.kill(-c.pid, 'SIGTERM');
  if (!process.env.GATEHOUSE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
});

/** npm's own entry point (npm is a Node program): the one running us, else the `npm` on PATH. */
function npmCli() {
  if (process.env.npm_execpath?.endsWith('npm-cli.js')) return process.env.npm_execpath;
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (existsSync(join(d, 'npm')) && realpathSync(join(d, 'npm')).endsWith('npm-cli.js')) return realpathSync(join(d, 'npm'));
  }
  throw new Error('npm not found');
}

/** The shell code blocks of the README, in order, as lines (comments and blank lines dropped). */
function readmeCommands() {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n').map((l) => l.replace(/\s+#\s.*$/, '').trim()).filter(Boolean));
}

test("the README's commands on a fresh copy: npm ci, npm run dev with a real MCP client connected, then the Cloudflare steps", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.ok(Buffer.byteLength(readme) < 10_000, `README.md is ${Buffer.byteLength(readme)} bytes; keep it under 10 KB`);
  const commands = readmeCommands();
  const kinds = commands.map((c) => c.split(' ').slice(0, 2).join(' '));
  assert.deepEqual(kinds, ['git clone', 'npm ci', 'npm run', 'cloudflared tunnel', 'npx wrangler', 'npx wrangler', 'npm run', 'npm run'], commands.join('\n'));

  // A fresh copy: what a clone of this tree would hold (tracked files, and new ones not ignored).
  mkdirSync(clone, { recursive: true });
  // maxBuffer: spawnSync's 1 MB default cut the list short in a tree with a large fuzz corpus,
  // leaving package.json out of the copy (npm ci then ran in the enclosing checkout).
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(listed.status, 0, listed.stderr);
  const files = listed.stdout.split('\0').filter(Boolean);
  assert.ok(files.includes('package.json') && files.includes('README.md'), 'the copy holds the whole tree');
  for (const f of files) if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(clone, f), { dereference: false });
  assert.ok(!existsSync(join(clone, 'node_modules')) && !existsSync(join(clone, 'build')) && !existsSync(join(clone, 'target')));

  // Nothing on PATH but Node: no Rust toolchain, no bash, no python. npm runs package scripts
  // with a shell, named by absolute path (cmd.exe on Windows).
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const npx = join(dirname(npmCli()), 'npx-cli.js');
  const env = {
    HOME: process.env.HOME,
    PATH: bin,
    npm_config_script_shell: '/bin/sh',
    npm_config_prefer_offline: 'true', // the registry cache is warm; the command is the README's
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    WRANGLER_STUB_STATE: join(dir, 'stub-state.json'),
    WRANGLER_STUB_LOG: join(dir, 'stub-calls.jsonl'),
  };
  const run = (args, more = {}) => {
    const r = spawnSync(process.execPath, args, { cwd: clone, encoding: 'utf8', timeout: 600_000, env: { ...env, ...more } });
    return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
  };
  const timings = {};
  const timed = (name, fn) => {
    const t0 = Date.now();
    const r = fn();
    timings[name] = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    return r;
  };

  const devPort = await freePort();
  let dev;
  let devBase;
  let serviceId;
  const t0 = Date.now();
  for (const command of commands) {
    // The README's placeholders, filled in as the owner would (a service id from the step before).
    const words = command.replace('<tunnel id>', randomUUID()).replace('<service id>', serviceId ?? '<service id>').split(/\s+/);
    if (words[0] === 'git') continue; // the copy above stands for the clone
    if (words[0] === 'cloudflared') continue; // runs on the owner's server, not here
    if (command === 'npm ci') {
      const r = timed('npm ci', () => run([npmCli(), 'ci', '--loglevel=error']));
      assert.equal(r.status, 0, r.out);
      continue;
    }
    if (command === 'npm run dev') {
      dev = spawn(process.execPath, [npmCli(), 'run', 'dev'], {
        cwd: clone,
        env: { ...env, GATEHOUSE_PORT: String(devPort), ORIGIN_PORT: String(await freePort()) },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      children.push(dev);
      let out = '';
      dev.stdout.on('data', (d) => (out += d));
      dev.stderr.on('data', (d) => (out += d));
      const deadline = Date.now() + 300_000;
      for (;;) {
        assert.ok(dev.exitCode === null, `npm run dev exited:\n${out}`);
        assert.ok(Date.now() < deadline, `npm run dev did not come up:\n${out}`);
        const url = /MCP URL:\s+(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(out)?.[1];
        if (url && (await fetch(url.replace('/mcp', '/.well-known/oauth-authorization-server')).then((r) => r.ok, () => false))) {
          devBase = new URL(url).origin;
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      timings['npm run dev (fresh copy to serving)'] = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
      // The password the README and the banner give; the SDK signs in with it.
      assert.match(readme, /password \*\*`gatehouse-dev`\*\*/);
      assert.match(out, /Owner password: gatehouse-dev/);
      const provider = sdkProvider({
        redirectUrl: 'http://127.0.0.1:9/callback',
        clientName: 'README reader',
        walk: (u) => approveAsOwner(u, { base: devBase, password: 'gatehouse-dev' }),
      });
      const mcp = await sdkConnect(`${devBase}/mcp`, provider, 'readme-test');
      assert.ok(mcp instanceof Client);
      const tools = (await mcp.listTools()).tools.map((x) => x.name);
      assert.ok(tools.includes('echo'), tools.join(','));
      assert.equal((await mcp.callTool({ name: 'echo', arguments: { text: 'from the README' } })).content[0].text, 'from the README');
      await mcp.close();
      continue;
    }
    if (words[0] === 'npx' && words[1] === 'wrangler') {
      // The Cloudflare steps talk to the stub: the copy's wrangler is replaced by it.
      const link = join(clone, 'node_modules/.bin/wrangler');
      if (realpathSync(link) !== STUB) {
        rmSync(link);
        symlinkSync(STUB, link);
      }
      const r = run([npx, ...words.slice(1)]);
      assert.equal(r.status, 0, `${command}\n${r.out}`);
      serviceId ??= /Created VPC service: ([0-9a-f-]{36})/.exec(r.out)?.[1];
      continue;
    }
    if (words[0] === 'npm' && words[2] === 'deploy') {
      assert.ok(serviceId, 'the VPC service was created first');
      // What the owner types at the prompts: a password, and yes to the plan.
      const args = [...words.slice(1), '--yes'];
      const r = timed('npm run deploy (stubbed Cloudflare)', () => run([npmCli(), ...args], { GATEHOUSE_OWNER_PASSWORD: 'a long owner password' }));
      assert.equal(r.status, 0, `${command}\n${r.out}`);
      assert.match(r.out, /MCP connector URL: https:\/\/mcp\.example\.com\/mcp/);
      const state = JSON.parse(readFileSync(env.WRANGLER_STUB_STATE, 'utf8'));
      const deployed = state.deploys.at(-1);
      assert.deepEqual(deployed.bindings, [{ binding: 'ORIGIN', service_id: serviceId }]);
      const sha = (f) => createHash('sha256').update(readFileSync(join(clone, 'dist', f))).digest('hex');
      assert.deepEqual(deployed.uploaded, { 'index.js': sha('index.js'), 'index_bg.wasm': sha('index_bg.wasm') }, 'the committed build is uploaded');
      assert.ok(existsSync(join(clone, 'gatehouse.config.json')));
      continue;
    }
    if (words[0] === 'npm' && words[2] === 'doctor') {
      const args = words.slice(1).map((w) => (w === 'https://mcp.example.com' ? devBase : w));
      const r = run([npmCli(), ...args], { GATEHOUSE_OWNER_PASSWORD: 'gatehouse-dev' });
      assert.equal(r.status, 0, `${command}\n${r.out}`);
      assert.match(r.out, /PASS {2}origin: your MCP server answers through Gatehouse/);
      continue;
    }
    assert.fail(`the test does not know how to run: ${command}`);
  }
  // Nothing a deploy writes is tracked: the owner's next `git pull` cannot conflict.
  const tracked = new Set(files);
  for (const f of ['gatehouse.config.json', '.gatehouse/wrangler.json', '.dev.vars']) assert.ok(!tracked.has(f), f);
  assert.equal(readFileSync(join(clone, 'wrangler.toml'), 'utf8'), readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'));
  t.diagnostic(`timings (npm cache warm): ${JSON.stringify(timings)}`);
});
