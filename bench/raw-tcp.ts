// The baseline of the fast links in bench:objects (issue 17): raw TCP over
// loopback between this process and a child (bench/tcp-sink.ts), the same
// object size, written in large writes, received into one buffer of its size.
// One process holding both ends (as the bench measured until the fifth
// session) put both sides on one event loop: 107 MiB/s where two processes
// reach 700+ MiB/s.
import { fork } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { threadCpuMs } from './cpu.js';

/** Bytes per write: as large as a fast link's frames. */
const WRITE_BYTES = 4 << 20;

/**
 * MiB/s (best of `rounds`) of `mib` MiB of bytes `fill` sent to a child
 * process over loopback TCP, received into one buffer it reuses, or (`fresh`)
 * a new one each time.
 */
export async function rawTcp(mib: number, rounds: number, opts: { fresh?: boolean; fill?: number } = {}): Promise<number> {
  return (await rawTcpCpu(mib, rounds, opts)).mibps;
}

/** rawTcp, with the CPU ms per MiB of the sender (this process) and of the sink, over the rounds after the first. */
export async function rawTcpCpu(
  mib: number,
  rounds: number,
  opts: { fresh?: boolean; fill?: number } = {},
): Promise<{ mibps: number; cpu: { sender: number; sink: number } }> {
  const fill = opts.fill ?? 3;
  const child = fork(fileURLToPath(new URL('./tcp-sink.js', import.meta.url)), opts.fresh ? ['fresh'] : [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`tcp-sink exited (${code})`)));
      child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    });
    const n = mib * (1 << 20);
    const src = new Uint8Array(n).fill(fill);
    let best = Infinity;
    const cpu = { sender: 0, sink: 0 };
    const all = (t: { main: number; others: number }) => t.main + t.others;
    for (let r = 0; r < rounds; r++) {
      const s0 = all(threadCpuMs(process.pid));
      const k0 = all(threadCpuMs(child.pid!));
      const ms = await new Promise<number>((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        s.setNoDelay(true);
        s.on('error', reject);
        let t = 0;
        s.on('connect', () => {
          t = performance.now();
          const head = Buffer.alloc(8);
          head.writeBigUInt64LE(BigInt(n), 0);
          s.write(head);
          for (let o = 0; o < n; o += WRITE_BYTES) s.write(src.subarray(o, o + WRITE_BYTES));
        });
        s.on('data', (d: Buffer) => {
          if (d[0] !== fill) reject(new Error(`the sink saw ${d[0]}`));
          resolve(performance.now() - t);
          s.destroy();
        });
      });
      best = Math.min(best, ms);
      // As linkPairCpu: the first round is not counted when there are others.
      if (r > 0 || rounds === 1) {
        cpu.sender += (all(threadCpuMs(process.pid)) - s0) / (mib * Math.max(1, rounds - 1));
        cpu.sink += (all(threadCpuMs(child.pid!)) - k0) / (mib * Math.max(1, rounds - 1));
      }
    }
    return { mibps: (mib / best) * 1000, cpu };
  } finally {
    child.kill();
  }
}
