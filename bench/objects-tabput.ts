// bench:objects, a tab's put of a large typed array (issue 17, session 14):
// a task on a bare tab's executor (a Web Worker, cross-origin isolated: its
// objects live in SharedArrayBuffers) puts `mib` MiB, each put into memory the
// executor never had (nothing is freed meanwhile), against a plain copy of the
// same bytes into a new SharedArrayBuffer and into one already written, in
// the same worker. Each kind is its own task call, so the tab's process CPU
// (its Chromium process tree) is counted per kind: a fresh copy over a reused
// one is the page faults' cost, and a put over a fresh copy what the put adds.
import type { Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { emit, figure, log, MB, percentile, round } from './harness.js';
import { chromiumCpuMs } from './cpu.js';
import { loadavg } from 'node:os';

/** What a kind of write cost: median ms in the worker, and the tab's CPU ms per write. */
interface Writes {
  ms: number;
  cpu: number;
}

const KINDS = ['put', 'fresh', 'reused'] as const;
type Kind = (typeof KINDS)[number];

/** `rounds` writes of `mib` MiB of each kind on tab `tab`, alternated kind by kind; figures for each. */
export async function tabPuts(mesh: Mesh, tab: { id: string; pids: number[] }, mib: number, rounds: number): Promise<Record<Kind, Writes>> {
  const pinned = { scheduling: { node: tab.id as NodeId, soft: false } };
  // One task a write: the executor keeps the source array and the reused target between calls (globals of its worker).
  const write = mesh.remote(async function tabWrite(kind: string, n: number) {
    const g = globalThis as { src?: Uint8Array; into?: Uint8Array; kept?: unknown[] };
    if (!g.src || g.src.byteLength !== n) {
      g.src = new Uint8Array(new Float32Array(n / 4).fill(1.5).buffer);
      g.into = new Uint8Array(new SharedArrayBuffer(n));
      g.into.set(g.src);
      g.kept = [];
    }
    const t = performance.now();
    if (kind === 'put') g.kept!.push(mesh.put(new Float32Array(g.src.buffer)));
    else if (kind === 'fresh') new Uint8Array(new SharedArrayBuffer(n)).set(g.src);
    else g.into!.set(g.src);
    return { ms: performance.now() - t, shared: typeof SharedArrayBuffer === 'function' && crossOriginIsolated };
  }, pinned);
  const done = mesh.remote(function tabWriteDone() {
    (globalThis as { kept?: unknown[] }).kept = [];
  }, pinned);
  const got: Record<Kind, { ms: number[]; cpu: number[] }> = { put: { ms: [], cpu: [] }, fresh: { ms: [], cpu: [] }, reused: { ms: [], cpu: [] } };
  const n = mib * MB;
  for (const k of KINDS) await mesh.get(write.remote(k, n)); // warm: the code compiled, the arrays made
  for (let r = 0; r < rounds; r++) {
    for (const k of KINDS) {
      const c0 = chromiumCpuMs(tab.pids);
      const w = await mesh.get(write.remote(k, n));
      if (!w.shared) throw new Error('the tab is not cross-origin isolated: its objects are not in shared memory');
      got[k].cpu.push(chromiumCpuMs(tab.pids) - c0);
      got[k].ms.push(w.ms);
    }
  }
  await mesh.get(done.remote());
  const out = {} as Record<Kind, Writes>;
  for (const k of KINDS) out[k] = { ms: percentile(got[k].ms, 50), cpu: percentile(got[k].cpu, 50) };
  const gbps = (ms: number) => round(n / ms / 1e6, 2);
  log(
    `tab put of ${mib} MiB into fresh memory (median of ${rounds}): ${round(out.put.ms, 1)} ms (${gbps(out.put.ms)} GB/s, tab CPU ${round(out.put.cpu, 1)} ms a put); ` +
      `plain copy into a new SharedArrayBuffer ${round(out.fresh.ms, 1)} ms (${gbps(out.fresh.ms)} GB/s, CPU ${round(out.fresh.cpu, 1)}), into a written one ${round(out.reused.ms, 1)} ms (${gbps(out.reused.ms)} GB/s, CPU ${round(out.reused.cpu, 1)}); load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
  );
  emit(figure(`objects.tabPut.${mib}MiB.fresh`, n / out.put.ms / 1e6, 'GB/s', n / out.fresh.ms / 1e6));
  emit(figure(`objects.tabPut.${mib}MiB.freshCopyVsReused`, n / out.fresh.ms / 1e6, 'GB/s', n / out.reused.ms / 1e6));
  return out;
}
