// What RedisStorage (main thread) and its worker (redis-worker.ts) say to
// each other. Writes and loads go down a MessagePort in order; the worker
// answers on the same port and bumps a shared counter, so the main thread can
// wait for an answer synchronously (Atomics.wait + receiveMessageOnPort): the
// GcsStorage interface is synchronous, ioredis is not.
import type { MessagePort } from 'node:worker_threads';

/** Slots of the shared Int32Array. */
export const SLOT = {
  /** 0 connecting, 1 ready, 2 failed to connect, 3 closed. */
  state: 0,
  /** Bumped after each message the worker posts. */
  posted: 1,
  /** The last write batch Redis acknowledged. */
  acked: 2,
} as const;
export const SLOTS = 3;

export const STATE = { connecting: 0, ready: 1, failed: 2, closed: 3 } as const;

/**
 * One flush: per group, per table, the rows to set and the keys to delete.
 * Values are spans of one buffer (`bytes`, transferred, not copied): one
 * allocation and one clone per flush rather than one per row.
 */
export interface WriteBatch {
  op: 'write';
  seq: number;
  bytes: Uint8Array;
  /**
   * `spans[2i]`, `spans[2i + 1]`: offset and length in `bytes` of the value of `keys[i]`.
   * `fence`: the group's fencing token (a job's lease epoch, coordinator/mesh): the
   * group's changes apply only while `<prefix>:{group}:fence` still holds it.
   */
  groups: [group: string, tables: [table: string, keys: string[], spans: Int32Array, dels: string[]][], fence?: string][];
}

export type ToWorker = WriteBatch | { op: 'load'; id: number; table: string } | { op: 'close' };

export type FromWorker =
  | { op: 'ready'; cluster: boolean; masters: number }
  | { op: 'connect-failed'; message: string }
  | { op: 'loaded'; id: number; rows: [key: string, value: Uint8Array][] }
  | { op: 'load-failed'; id: number; message: string }
  /** A write batch Redis refused (not a lost connection: those are retried). */
  | { op: 'write-failed'; seq: number; message: string }
  /** A fenced group's changes were refused: another coordinator took its lease since (nothing of them applied). */
  | { op: 'fenced'; seq: number; group: string }
  | { op: 'closed' };

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
