// One load run with autocannon (as a library, in this process): a fixed number of
// connections for a fixed time against one URL, with CPU snapshots around it.
import autocannon from 'autocannon';
import { diff, snapshot } from './cpu.mjs';

/**
 * Runs `autocannon` and returns { ok, bad, rps, p50, p99, cpu }:
 * `ok` counts responses with `expectStatus` whose body passes `verify` (if given); `bad` is
 * everything else (other statuses, mismatched bodies, errors, timeouts). `rps` is ok / duration.
 */
export async function loadRun({ url, headers, body, connections, seconds, expectStatus, verify, pids }) {
  const before = snapshot(pids);
  const result = await autocannon({
    url,
    method: 'POST',
    headers,
    body,
    // A unique JSON-RPC id per request: one MCP session carries all connections' requests.
    idReplacement: true,
    connections,
    duration: seconds,
    timeout: 10,
    ...(verify ? { verifyBody: verify } : {}),
  });
  const after = snapshot(pids);
  const withStatus = Number(result.statusCodeStats?.[String(expectStatus)]?.count ?? 0);
  // Mismatches may also count responses with another status; a run with any `bad` is reported
  // as such, so the overlap only matters for runs that are already flagged.
  const ok = Math.max(0, withStatus - (result.mismatches ?? 0));
  const total = Number(result.requests?.total ?? 0);
  const bad = (total - ok) + (result.errors ?? 0) + (result.timeouts ?? 0);
  return {
    ok,
    bad,
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: diff(before, after),
  };
}
