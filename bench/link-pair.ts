// The fast link alone between two processes (issue 17), part of
// bench:objects: this process and a child (this file run with `holder`)
// each make a link pool over TCP (signals over IPC); the child holds an
// object, this process fetches it, leaves checked, into pool memory. No
// coordinator, task or executor: what the link itself does, to set beside raw
// TCP (raw-tcp.ts) and beside the task path (objects-node.ts).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PeerLinks } from '../shared/transfer/links.js';
import SimplePeer from 'simple-peer';
import { fastPeerFactory } from '../edge/fast-link.js';
import { simplePeerFactory, type PeerFactory } from '../shared/transfer/raw-peer.js';
import { installNodeHasher } from '../edge/node-hash.js';
import { installNodeWarmer } from '../edge/node-warm.js';
import { contentHash } from '../shared/hash.js';
import { allocBytes, recycle } from '../shared/bytes.js';
import type { ObjectId } from '../shared/ids.js';
import { readdirSync } from 'node:fs';
import { cpuMsOf, threadCpuMs, topSpent } from './cpu.js';

const OBJ = 'ab'.repeat(20) as ObjectId;

/**
 * What carries the link: the fast link (TCP), or a WebRTC data channel (@roamhq/wrtc) whose senders wait at
 * `highWater` bytes queued (issue 17, session 16: Node peers get the tabs' 1.5 MiB too; measured against 2 MiB).
 */
export type PairLink = 'tcp' | { webrtcHighWater: number };

async function factoryOf(link: PairLink): Promise<PeerFactory> {
  if (link === 'tcp') return fastPeerFactory(undefined);
  const wrtc = (await import('@roamhq/wrtc')) as { default?: unknown };
  return simplePeerFactory(SimplePeer as never, { wrtc: wrtc.default ?? wrtc }, { highWater: link.webrtcHighWater });
}

function pool(self: string, send: (data: string) => void, factory: PeerFactory, held?: Uint8Array): PeerLinks {
  return new PeerLinks({
    factory,
    self: () => self,
    sendSignal: (_peer, data) => send(data),
    lookup: (id) => Promise.resolve(id === OBJ ? held : undefined),
    connectTimeoutMs: 10_000,
  });
}

function sample(n: number): Uint8Array {
  const b = allocBytes(n, true);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}

/** CPU ms per MiB moved, of each side's main thread and of its other threads (the hash pool, libuv, V8's helpers). */
export interface LinkCpu {
  reader: { main: number; others: number };
  holder: { main: number; others: number };
}

/** CPU ms so far of the reader's (this process's) and the holder's threads, by side and thread (`main`, else its tid: Node names its threads alike). */
function byThread(holder: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [side, pid] of [
    ['reader', process.pid],
    ['holder', holder],
  ] as const) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const ms = cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
        if (!Number.isNaN(ms)) out.set(`${side}/${Number(tid) === pid ? 'main' : tid}`, ms);
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * MiB/s (best of `rounds`) of `mib` MiB over one fast link from a child
 * process, each fetch checked leaf by leaf; `reuse`: each fetched copy is
 * given back to the pool (as a node's store does once no executor holds a
 * view of it), else kept until the end. `cpu`: the CPU each side spent per
 * MiB over the rounds after the first (it holds under load, where wall time does not).
 */
export async function linkPair(mib: number, rounds: number, reuse = false): Promise<number> {
  return (await linkPairCpu(mib, rounds, reuse)).mibps;
}

export async function linkPairCpu(
  mib: number,
  rounds: number,
  reuse = false,
  link: PairLink = 'tcp',
): Promise<{ mibps: number; cpu: LinkCpu; counters: PeerLinks['counters']; threads: [string, number][] }> {
  installNodeHasher();
  installNodeWarmer();
  const n = mib << 20;
  const how = link === 'tcp' ? 'tcp' : String(link.webrtcHighWater);
  // BENCH_CPU_PROF=<folder>: the holder writes V8 CPU profiles there as the cluster's children do (bench/processes.ts).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/link-holder-${process.pid}-${Date.now()}`] : [];
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['holder', String(n), how], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...prof],
  });
  const links = pool('reader', (data) => child.send({ sig: data }), await factoryOf(link));
  try {
    const hash = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`link holder exited (${code})`)));
      child.on('message', (m: { sig?: string; hash?: string }) => {
        if (m.hash) resolve(m.hash);
        if (m.sig) links.onSignal('holder', m.sig);
      });
    });
    let best = Infinity;
    const cpu: LinkCpu = { reader: { main: 0, others: 0 }, holder: { main: 0, others: 0 } };
    // The first round (fresh memory, the link's set-up) is not counted when there are others: the CPU of a steady transfer.
    const counted = rounds > 1 ? rounds - 1 : 1;
    const add = (to: { main: number; others: number }, a: { main: number; others: number }, b: { main: number; others: number }) => {
      to.main += (b.main - a.main) / (mib * counted);
      to.others += (b.others - a.others) / (mib * counted);
    };
    let named = new Map<string, number>();
    for (let r = 0; r < rounds; r++) {
      if (r === 1 || rounds === 1) named = byThread(child.pid!);
      const r0 = threadCpuMs(process.pid);
      const h0 = threadCpuMs(child.pid!);
      const t = performance.now();
      const got = await links.fetch('holder', OBJ, n, { hash });
      best = Math.min(best, performance.now() - t);
      if (r > 0 || rounds === 1) {
        add(cpu.reader, r0, threadCpuMs(process.pid));
        add(cpu.holder, h0, threadCpuMs(child.pid!));
      }
      if (got.byteLength !== n) throw new Error(`got ${got.byteLength} bytes`);
      if (reuse) recycle(got);
    }
    const kind = link === 'tcp' ? 'tcp' : 'webrtc';
    if (links.opened[kind] !== 1) throw new Error(`the link was not ${kind} (${JSON.stringify(links.opened)})`);
    const threads = topSpent(named, byThread(child.pid!), 8).map(([k, v]): [string, number] => [k, v / (mib * counted)]);
    return { mibps: (mib / best) * 1000, cpu, counters: links.counters, threads };
  } finally {
    links.stop();
    // Disconnected, the holder exits on its own (writing its profile, if asked); killed if it has not within a while.
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      if (child.connected) child.disconnect();
      const t = setTimeout(() => child.kill(), prof.length ? 20_000 : 2_000);
      await gone;
      clearTimeout(t);
    }
  }
}

if (process.argv[2] === 'holder') {
  installNodeHasher();
  const bytes = sample(Number(process.argv[3]));
  const hash = contentHash(bytes);
  const how = process.argv[4] ?? 'tcp';
  const links = pool('holder', (data) => process.send!({ sig: data }), await factoryOf(how === 'tcp' ? 'tcp' : { webrtcHighWater: Number(how) }), bytes);
  process.on('message', (m: { sig?: string }) => {
    if (m.sig) links.onSignal('reader', m.sig);
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ hash });
}
