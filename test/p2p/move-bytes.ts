// Shared by the peer-link tests (tabs, ws-link): an object made on one node and
// read by a task on another, its bytes checked, and how it travelled.
import { expect } from 'vitest';
import type { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

/** Makes `n` bytes on `from`, reads them in a task on `to`; checks the bytes and returns the counters' growth. */
export async function moveBytes(cl: Cluster, mesh: Mesh, from: string, to: string, n: number, seed: number) {
  const stats = () => cl.c.coordinator.gcs.stats;
  const on = (node: string) => ({ scheduling: { node: node as NodeId, soft: false } });
  const make = mesh.remote(function make(n: number, seed: number) {
    const x = new Uint8Array(n);
    for (let i = 0; i < n; i += 997) x[i] = (i * seed) & 255;
    return x;
  }, on(from));
  const sum = mesh.remote(function sum(x: Uint8Array) {
    let s = 0;
    for (let i = 0; i < x.length; i += 997) s = (s + x[i] * (i + 1)) % 1_000_000_007;
    return [x.length, s];
  }, on(to));
  const obj = make.remote(n, seed);
  await mesh.wait([obj]);
  const relayed = stats().bytesRelayed;
  const peer = stats().bytesPeer;
  let s = 0;
  for (let i = 0; i < n; i += 997) s = (s + ((i * seed) & 255) * (i + 1)) % 1_000_000_007;
  expect(await mesh.get(sum.remote(obj))).toEqual([n, s]);
  return { relayed: stats().bytesRelayed - relayed, peer: stats().bytesPeer - peer };
}
