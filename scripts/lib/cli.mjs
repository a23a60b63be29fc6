// What every Node script of Gatehouse (deploy, rotate-key, dev, doctor, logs) starts with:
// clear stops instead of stack traces, the common flags, and the two things that must hold
// before anything else runs: a Node new enough for the pinned wrangler, and node_modules
// matching package.json. Only node: built-ins, so it works before `npm ci` ran.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** wrangler 4.164 refuses older Node (and npm then silently installs an older wrangler). */
export const NODE_MIN = '22.12.0';

export class Stop extends Error {}
export const say = (msg = '') => process.stdout.write(`${msg}\n`);
export const warn = (msg) => process.stderr.write(`[gatehouse] warning: ${msg}\n`);

const parts = (v) => v.split('.').map((n) => Number.parseInt(n, 10) || 0);
export function versionAtLeast(have, want) {
  const [a, b] = [parts(have), parts(want)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export function requireNode() {
  if (!versionAtLeast(process.versions.node, NODE_MIN)) {
    throw new Stop(`Gatehouse needs Node.js ${NODE_MIN} or newer; this is ${process.versions.node}. Install a current Node.js (https://nodejs.org) and run this again.`);
  }
}

/**
 * node_modules must hold exactly the versions package.json pins (a `git pull` may have moved
 * them). If not, runs `npm ci` (never `npm install`, which would rewrite the tracked lock
 * file) with the npm that started this script, or says what to run.
 */
export function ensureDependencies(root = ROOT) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const pinned = { ...pkg.dependencies, ...pkg.devDependencies };
  const stale = Object.entries(pinned).filter(([name, version]) => {
    const p = join(root, 'node_modules', name, 'package.json');
    return !existsSync(p) || JSON.parse(readFileSync(p, 'utf8')).version !== version;
  });
  if (!stale.length) return;
  const npmCli = process.env.npm_execpath;
  if (!npmCli || !/npm-cli\.js$/.test(npmCli)) {
    throw new Stop(`node_modules is missing or out of date (${stale.map(([n]) => n).slice(0, 3).join(', ')}…): run \`npm ci\`, then this again.`);
  }
  say(`[gatehouse] node_modules is missing or out of date (${stale.map(([n]) => n).slice(0, 3).join(', ')}…): running npm ci`);
  const r = spawnSync(process.execPath, [npmCli, 'ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Stop('npm ci failed (see above); fix that, then run this again.');
}

/**
 * A script's flags (node:util parseArgs) plus the ones every script takes: --yes/-y, --help/-h.
 * A bad flag stops with the usage; --help prints it and exits.
 */
export function parseOptions(options, usage, { positionals = false } = {}) {
  let parsed;
  try {
    parsed = parseArgs({
      options: { ...options, yes: { type: 'boolean', short: 'y' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: positionals,
    });
  } catch (e) {
    throw new Stop(`${e.message}\n${usage}`);
  }
  if (parsed.values.help) {
    say(usage);
    process.exit(0);
  }
  return positionals ? parsed : parsed.values;
}

/** Runs `main`, turning a Stop into a clear message and exit code 1. */
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
