// Warm spares for the memory pool on Node (issue 17, shared/bytes.ts). On
// this project's VMs the first touch of fresh memory costs more than the
// copy into it (80 MiB: 0.4 s on a quiet machine, seconds under load; memory
// the guest freed goes back to the host), so a put of a new 80 MiB array ran
// at 0.2 GB/s and a fast link received into fresh memory at a quarter of raw
// TCP's pace. When the pool hands out a fresh large buffer, a worker thread
// touches its pages from the last one down while the caller writes it from
// the first (the two share its page faults), then touches a spare of that
// size, which waits in the pool for the next buffer of that size; taking it
// brings the next spare. A buffer asked for while its spare is still being
// warmed is that spare, faulted from both ends at once likewise. The driver
// and edge nodes install it, not executors.
import { EvalPool } from './eval-pool.js';
import { setWarmer } from '../shared/bytes.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  // A locked compare-and-swap writes its byte back unchanged: the page is
  // faulted in for writing, while whoever took the buffer may be writing it.
  // From the last page down: a taker copying from the first meets it halfway.
  const a = new Uint8Array(m.buf);
  for (let i = Math.floor((a.length - 1) / 4096) * 4096; i >= 0; i -= 4096) Atomics.compareExchange(a, i, 0, 0);
  parentPort.postMessage(m.x);
});`;

let installed = false;

export function installNodeWarmer(): void {
  if (installed) return;
  installed = true;
  const pool = new EvalPool(WORKER_SOURCE, 1, 'tabmesh-warm');
  setWarmer((buf) => pool.call(0, { buf }));
}
