// CPU accounting from /proc (Linux): a process's utime+stime (proc(5), /proc/<pid>/stat
// fields 14 and 15, all threads included) and the machine's busy time from /proc/stat, so
// each measurement can say how much CPU the runtime used and how much the rest of the
// machine used meanwhile (a noisy neighbour shows up there).
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond;
/** USER_HZ: the unit of /proc times (100 on practically every Linux). */
export function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Fields after the `(comm)` of /proc/<pid>/stat; comm may contain spaces or parentheses. */
function statFields(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) used so far by process `pid`, or NaN once it is gone. */
export function processCpuSeconds(pid) {
  try {
    const f = statFields(pid); // f[0] is field 3 (state): utime is field 14, stime field 15
    return (Number(f[11]) + Number(f[12])) / clockTicks();
  } catch {
    return NaN;
  }
}

/**
 * CPU milliseconds on record for the live threads of `pid`, in nanoseconds' precision (the first
 * field of /proc/<pid>/task/<tid>/schedstat, the time each thread has run). For a start-up, where
 * /proc/<pid>/stat's 10 ms ticks are too coarse; threads that already exited are not counted.
 */
export function threadsCpuMs(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* exited meanwhile */
    }
  }
  return ns / 1e6;
}

/** Machine-wide CPU seconds from the first line of /proc/stat: { busy, total }. */
export function machineCpuSeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest times are already in user/nice)
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / clockTicks(), total: (busy + idle + iowait) / clockTicks() };
}

/** Pids of the direct children of `parent` whose command name is `comm`. */
export function childPids(parent, comm) {
  const out = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (Number(statFields(p)[1]) !== parent) continue;
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) out.push(Number(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * A snapshot of everything a measurement accounts for. `pids`: { name: pid } of the processes
 * to follow; the load generator is this process (process.cpuUsage()).
 */
export function snapshot(pids) {
  const procs = {};
  for (const [name, pid] of Object.entries(pids)) procs[name] = processCpuSeconds(pid);
  const self = process.cpuUsage();
  return {
    at: performance.now(),
    machine: machineCpuSeconds(),
    procs,
    loadgen: (self.user + self.system) / 1e6,
  };
}

/**
 * CPU used between two snapshots: per followed process, by the load generator, and by the
 * rest of the machine ("other" = machine busy - followed - load generator), in CPU seconds,
 * plus the wall time and the machine's capacity over it (cores x seconds).
 */
export function diff(a, b) {
  const wall = (b.at - a.at) / 1000;
  const procs = {};
  let followed = 0;
  for (const name of Object.keys(a.procs)) {
    procs[name] = b.procs[name] - a.procs[name];
    followed += procs[name];
  }
  const loadgen = b.loadgen - a.loadgen;
  const busy = b.machine.busy - a.machine.busy;
  const capacity = b.machine.total - a.machine.total;
  return { wall, procs, loadgen, busy, capacity, other: Math.max(0, busy - followed - loadgen) };
}
