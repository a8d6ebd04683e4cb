// bench:objects, broadcast section (issue 17): one 64 MiB object a driver put,
// read at once by tasks on 8 readers (4 bare tabs, a Chromium process each, and 4
// edge nodes). Figures: total time, and bytes the origin (the driver) uploaded
// divided by the object's size, against the same broadcast with the
// coordinator's swarm membership off (`--no-swarm`: every reader hears of the
// origin only and takes the whole object from it), run in the same bench; and
// the swarm with the tabs on WebRTC links to Node peers (`?wslinks=0`)
// against their default WebSocket links, with the CPU every process spent.
// Session 13: the same with a tab as the origin (a fifth bare tab makes the
// object): a Node origin keeps up, and readers keep to it (swarm-policy.ts);
// a tab's upload is the limit, and the swarm keeps it under two copies.
import type { Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import type { PeerLinks } from '../shared/transfer/links.js';
import { MB, nowMs } from './harness.js';

export const BROADCAST_MIB = 64;

export interface Broadcast {
  ms: number;
  /** Bytes the origin uploaded over peer links, in copies of the object. */
  originCopies: number;
  /** CPU ms the mesh's processes spent while the readers read (`cpuMs` of broadcastOnce). */
  cpu: Record<string, number>;
}

/** The driver's bytes sent over its peer links. */
function driverBytesOut(mesh: Mesh): number {
  const links = (mesh.core as unknown as { links: PeerLinks | null }).links;
  if (!links) throw new Error('the driver has no peer links');
  return links.counters.bytesOut;
}

/** A tab that makes the object (instead of the driver's put), and its bytes sent over peer links so far. */
export interface TabOrigin {
  node: string;
  bytesOut(): Promise<number>;
}

/**
 * Puts one object from the driver (or has a task on `tab` make it) and has a task on each of `readers` read it, all
 * at once; `cpuMs`: CPU ms so far, by process.
 */
export async function broadcastOnce(mesh: Mesh, readers: string[], seed: number, cpuMs: () => Record<string, number>, tab?: TabOrigin): Promise<Broadcast> {
  const n = BROADCAST_MIB * MB;
  let obj;
  if (tab) {
    const make = mesh.remote(
      function make(n: number, seed: number) {
        const x = new Uint8Array(n);
        for (let i = 0; i < n; i += 4093) x[i] = (i * seed) & 255;
        return x;
      },
      { scheduling: { node: tab.node as NodeId, soft: false } },
    );
    obj = make.remote(n, seed);
  } else {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i += 4093) bytes[i] = (i * seed) & 255;
    obj = mesh.put(bytes);
  }
  await mesh.wait([obj]);
  const originOut = () => (tab ? tab.bytesOut() : Promise.resolve(driverBytesOut(mesh)));
  const sum = mesh.remote(function sum(x: Uint8Array) {
    let s = 0;
    for (let i = 0; i < x.length; i += 4093) s = (s + x[i]) % 1_000_000_007;
    return [x.length, s];
  });
  let want = 0;
  for (let i = 0; i < n; i += 4093) want = (want + ((i * seed) & 255)) % 1_000_000_007;
  const before = await originOut();
  const cpu0 = cpuMs();
  const t0 = nowMs();
  const got = await mesh.get(readers.map((r) => sum.options({ scheduling: { node: r as NodeId, soft: false } }).remote(obj)));
  const ms = nowMs() - t0;
  const cpu = cpuMs();
  for (const k of Object.keys(cpu)) cpu[k] -= cpu0[k];
  for (const g of got) if (g[0] !== n || g[1] !== want) throw new Error(`a reader got other bytes: ${JSON.stringify(g)}`);
  const originCopies = ((await originOut()) - before) / n;
  mesh.free([obj]);
  return { ms, originCopies, cpu };
}

/** MiB a reader took from the origin, from edge nodes and from tabs (session 14: the holder decides, fan-out.ts). */
export interface ReaderSources {
  reader: string;
  origin: number;
  edges: number;
  tabs: number;
}

/** Sorts a swarm read's bytes by source (`lastFrom` of its stats) into the origin, edge nodes and the rest (tabs). */
export function readerSources(reader: string, from: Record<string, number>, origin: string, edges: ReadonlySet<string>): ReaderSources {
  const r = { reader, origin: 0, edges: 0, tabs: 0 };
  for (const [peer, n] of Object.entries(from)) {
    const mib = n / MB;
    if (peer === origin) r.origin += mib;
    else if (edges.has(peer)) r.edges += mib;
    else r.tabs += mib;
  }
  return r;
}

/** An edge node's id and the sources of its last swarm read, from its log (fetcher.ts: "bytes by source"). */
export function edgeSwarmLog(output: string[]): { node: string; from: Record<string, number> } | null {
  const text = output.join('');
  const node = /tabmesh node (\S+) joined/.exec(text)?.[1];
  const all = [...text.matchAll(/swarm fetch of \S+: bytes by source (\{[^\n]*\})/g)];
  if (!node || all.length === 0) return null;
  return { node, from: JSON.parse(all[all.length - 1][1]) as Record<string, number> };
}

/** Every reader's sources: tabs' from their swarm stats' `lastFrom` (JSON text, one per tab), edges' from their logs. */
export function allReaderSources(
  tabStats: unknown[],
  tabIds: (string | undefined)[],
  edgeOutputs: string[][],
  origin: string,
  edges: Iterable<string>,
): ReaderSources[] {
  const edgeSet = new Set(edges);
  const lastFrom = (text: unknown): Record<string, number> => {
    try {
      return (JSON.parse(String(text)) as { lastFrom?: Record<string, number> }).lastFrom ?? {};
    } catch {
      return {};
    }
  };
  return [
    ...tabStats.map((text, i) => readerSources(tabIds[i] ?? `tab${i}`, lastFrom(text), origin, edgeSet)),
    ...edgeOutputs.map(edgeSwarmLog).flatMap((e) => (e ? [readerSources(e.node, e.from, origin, edgeSet)] : [])),
  ];
}
