import { startHarness } from './harness.mjs';
const h = await startHarness({ name: 'try' });
let r = await fetch(h.base + '/.well-known/jwks.json'); await r.text();
let t = Date.now(); await h.restart(); console.log('restart', Date.now() - t);
t = Date.now(); await h.stop(); console.log('stop', Date.now() - t);
