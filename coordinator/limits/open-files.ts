// The coordinator's own bound on open connections (issue 14). Every WebSocket
// is a file descriptor; past the process's open-file limit accept() and any
// call that opens a file fail with EMFILE (at 20,000 nodes, `ulimit -n` 20000
// here, the coordinator died reading its own memory use). Connections are
// refused with a clear error a reserve below the limit, so the files the
// coordinator itself needs (SQLite, Redis, workers, /proc) stay available.
import { readFileSync } from 'node:fs';

/** Descriptors kept for the coordinator's own files and sockets. */
export const FD_RESERVE = 256;

/** The soft open-file limit (Linux: /proc/self/limits); undefined where unknown or unlimited. */
export function openFileLimit(text?: string): number | undefined {
  let limits = text;
  if (limits === undefined) {
    try {
      limits = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/** How many WebSocket sessions may be open at once under this limit (Limits.maxSessions). */
export function sessionBudget(limit: number | undefined): number {
  return limit === undefined ? Infinity : Math.max(64, limit - FD_RESERVE);
}

let lastMemory: NodeJS.MemoryUsage = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };

/** process.memoryUsage() reads /proc and throws EMFILE when no descriptor is free: the last reading then. */
export function memoryUsage(): NodeJS.MemoryUsage {
  try {
    lastMemory = process.memoryUsage();
  } catch {
    // keep the last reading
  }
  return lastMemory;
}
