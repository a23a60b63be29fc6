// Free loopback ports, shared by the e2e harness and the benchmark (which must not import
// the harness: it installs process-wide exit handlers); `npm run dev` uses the same function.
export { freePort } from '../../scripts/lib/net.mjs';
