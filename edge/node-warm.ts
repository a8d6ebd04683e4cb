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
//
// Two threads (issue 17, session 18): one helps the taker of a fresh buffer
// (its faults are on the caller's path), the other warms spares at the lowest
// CPU priority. A spare is speculative: warmed at normal priority it took a
// core's share from whatever came next (a fast link's receive and leaf checks
// on a 2-core host: ~0.5 ms of CPU per MiB received while an 80 MiB spare was
// faulted in), where now it takes only what nothing else wants.
//
// The kernel's first read of a page costs again (issue 17, session 20): on
// these VMs (shadow page tables, the kernel's apart from the process's) the
// first socket write or read of a page of user memory cost ~1.6 ms per MiB,
// 5x the copy itself, on the thread sending or receiving: an 80 MiB object
// sent from memory an executor had just made, or received into a warm spare,
// cost its holder's or its reader's main thread ~130 ms more than memory sent
// from before. So the warmer also has the kernel read one byte of every page
// it touched (a gathered write of those bytes to a scratch file nobody reads),
// and reads those of an executor's large result (`kernel`, the pages already
// written): once the kernel read a page, sends from it and receives into it
// cost what the copy does. Done again on memory the kernel read already, it
// costs ~20 system calls per 80 MiB.
import { EvalPool } from './eval-pool.js';
import { setWarmer, type WarmWay } from '../shared/bytes.js';

const WORKER_SOURCE = `
const { parentPort, threadId } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const PAGE = 4096;
/** Pages a gathered write reads (IOV_MAX is 1024 on Linux). */
const BATCH = 1024;
let low = false;
/** An unlinked file this thread writes the bytes the kernel reads to: -1 none (tried), undefined not yet tried. */
let scratch;
function scratchFd() {
  if (scratch !== undefined) return scratch;
  scratch = -1;
  for (const dir of ['/dev/shm', require('node:os').tmpdir()]) {
    const p = path.join(dir, 'tabmesh-warm-' + process.pid + '-' + threadId + '-' + Date.now());
    try {
      const fd = fs.openSync(p, 'wx+', 0o600);
      scratch = fd;
      fs.unlinkSync(p);
      break;
    } catch {}
  }
  return scratch;
}
parentPort.on('message', (m) => {
  // Linux keeps a nice value per thread: priority 19 for this thread alone (where the platform refuses, as it is).
  if (m.low && !low) {
    low = true;
    try {
      require('node:os').setPriority(19);
    } catch {}
  }
  // A locked compare-and-swap writes its byte back unchanged: the page is
  // faulted in for writing, while whoever took the buffer may be writing it.
  // From the last page down: a taker copying from the first meets it halfway.
  // Then the kernel reads one byte of each of those pages (it changes none).
  const a = new Uint8Array(m.buf);
  const fd = scratchFd();
  let read = 0;
  for (let hi = Math.floor((a.length - 1) / PAGE); hi >= 0; hi -= BATCH) {
    const lo = Math.max(0, hi - BATCH + 1);
    if (!m.kernelOnly) for (let p = hi; p >= lo; p--) Atomics.compareExchange(a, p * PAGE, 0, 0);
    if (scratch < 0) continue;
    const bytes = [];
    for (let p = hi; p >= lo; p--) bytes.push(a.subarray(p * PAGE, p * PAGE + 1));
    try {
      read += fs.writevSync(fd, bytes, 0);
    } catch {
      scratch = -1; // a full or read-only file system: pages touched as before
    }
  }
  parentPort.postMessage({ x: m.x, out: read });
});`;

let pool: EvalPool | null = null;

/** Installs the warmer (again, where a test put another in its place: its threads are made once). */
export function installNodeWarmer(): void {
  const p = (pool ??= new EvalPool(WORKER_SOURCE, 2, 'tabmesh-warm'));
  const warm = (buf: SharedArrayBuffer, way: WarmWay) => (way === 'spare' ? p.call(1, { buf, low: true }) : p.call(0, { buf, kernelOnly: way === 'kernel' }));
  setWarmer(async (buf, way) => Number(await warm(buf, way)) || 0);
}

/** Installs the warmer and starts its threads now (a node, as it starts: its first fresh buffer does not wait for them; see node-hash.ts startHashPool). */
export function startWarmer(): void {
  installNodeWarmer();
  pool!.warm();
}

/** How many of the warmer's threads are up (0 before it is installed). */
export function warmerOnline(): number {
  return pool?.online ?? 0;
}
