// RedisStorage's side of the worker protocol (worker-wire.ts): what its
// worker (redis-worker.ts) starts with, and the layout of its keys.
import type { MessagePort } from 'node:worker_threads';

export { SLOT, SLOTS, STATE, type FromWorker, type ToWorker, type WriteBatch } from './worker-wire.js';

export interface WorkerInit {
  url: string;
  prefix: string;
  shared: SharedArrayBuffer;
  port: MessagePort;
  connectTimeoutMs: number;
}

/** `<prefix>:{<group>}:<table>`: the braces are the Cluster hash tag, so a group's tables share a slot. */
export function hashKey(prefix: string, group: string, table: string): string {
  return `${prefix}:{${group}}:${table}`;
}

/** The key holding a group's fencing token (`<epoch>:<owner>`), in the group's slot. */
export function fenceKey(prefix: string, group: string): string {
  return hashKey(prefix, group, 'fence');
}

/** The group of rows that belong to no job. */
export const NO_GROUP = '_';
