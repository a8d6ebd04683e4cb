// What a process holds open, for test/helpers/shared-leaks.ts: its active resources by type, and its handles
// (sockets, servers, child processes) by kind. Node's `_getActiveHandles` is undocumented but stable since Node 0.x;
// without it the handles' list is empty and the counts remain.
import { syncBuiltinESMExports } from 'node:module';
import { ChildProcess } from 'node:child_process';
import { Server, Socket } from 'node:net';
import timers from 'node:timers';

export type HandleInfo = string;

/** process.getActiveResourcesInfo() counted by type ("Timeout": 3, "TCPSocketWrap": 2, ...). */
export function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

/** Each active handle named by kind: "Socket TCP 127.0.0.1:4321", "Server :38811", "ChildProcess 1234 node bin/...". */
export function describeHandles(): HandleInfo[] {
  const p = process as unknown as { _getActiveHandles?: () => unknown[] };
  return (p._getActiveHandles?.() ?? []).map(describe);
}

function describe(h: unknown): HandleInfo {
  if (h instanceof ChildProcess) return `ChildProcess ${h.pid} ${h.spawnargs.slice(0, 3).join(' ')}`;
  if (h instanceof Socket) {
    const kind = (h as unknown as { _handle?: object | null })._handle?.constructor.name ?? 'closed';
    return h.remotePort === undefined ? `Socket ${kind}` : `Socket ${kind} ${h.remoteAddress}:${h.remotePort}`;
  }
  if (h instanceof Server) {
    const a = h.address();
    return `Server ${typeof a === 'string' ? a : a ? ':' + a.port : 'unbound'}`;
  }
  return (h as object)?.constructor?.name ?? typeof h;
}

interface Traced {
  ref: WeakRef<NodeJS.Timeout>;
  label: string;
}

/**
 * Wraps the global (and node:timers') setTimeout and setInterval to note who set each timer; `pending()` names the
 * ones not yet fired or cleared. Captures a stack per timer: for looking (TABMESH_LEAKS_TRACE=1), not for CI.
 */
export function timerTrace(): { pending(): string[] } {
  const traced = new Set<Traced>();
  const wrap = <F extends typeof setTimeout | typeof setInterval>(orig: F, kind: string): F =>
    function (this: unknown, cb: (...a: unknown[]) => void, ...rest: unknown[]) {
      const t = (orig as unknown as (...a: unknown[]) => NodeJS.Timeout).call(this, cb, ...rest);
      const frames = (new Error().stack ?? '').split('\n').slice(2);
      const own = frames.find((f) => !f.includes('node_modules') && !f.includes('shared-leaks')) ?? frames[0] ?? '';
      traced.add({ ref: new WeakRef(t), label: `${kind} ${cb?.name || 'anonymous'} ${typeof rest[0] === 'number' ? rest[0] : 0}ms ${own.trim()}` });
      return t;
    } as unknown as F;
  const mark = Symbol.for('tabmesh.timerTrace');
  const g = globalThis as unknown as Record<symbol, { pending(): string[] } | undefined>;
  const existing = g[mark];
  if (existing) return existing;
  globalThis.setTimeout = wrap(globalThis.setTimeout, 'setTimeout');
  globalThis.setInterval = wrap(globalThis.setInterval, 'setInterval');
  timers.setTimeout = globalThis.setTimeout;
  timers.setInterval = globalThis.setInterval;
  syncBuiltinESMExports();
  const api = {
    pending(): string[] {
      const out: string[] = [];
      for (const x of traced) {
        const t = x.ref.deref() as (NodeJS.Timeout & { _destroyed?: boolean }) | undefined;
        if (!t || t._destroyed) traced.delete(x);
        else out.push(x.label);
      }
      return out;
    },
  };
  g[mark] = api;
  return api;
}
