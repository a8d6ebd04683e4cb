// An idle node sleeps through its heartbeat ticks (shared/node/heartbeat.ts, session 32): with a real coordinator
// and a real NodeRuntime, a node that said it holds nothing stays alive through several idle windows on its
// keepalives alone, and work placed on it while it sleeps runs (the frame wakes it), after which it sleeps again.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Cluster } from '../helpers/cluster.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { inThread } from '../helpers/in-thread.js';
import { until } from '../helpers/poll.js';

describe('an idle node asleep between keepalives', () => {
  let cl: Cluster | undefined;
  let rt: NodeRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    await cl?.stop();
    cl = rt = undefined;
  });

  it('stays alive on its keepalives and runs work given while it sleeps', async () => {
    // Ticks every 200 ms; a node holding nothing may be silent 1.5 s (half the 3 s idle window), else 0.5 s.
    cl = await Cluster.start({ nodes: 0, heartbeatMs: 200, deadAfterMs: 1000, idleDeadAfterMs: 3000 });
    const c = cl.c.coordinator;
    rt = new NodeRuntime(
      { url: cl.url, kind: 'edge', name: 'sleeper', cpus: 2, storeBytes: 16 << 20 },
      { spawnExecutor: inThread, WebSocket: WebSocket as unknown as WebSocketCtor },
    );
    await rt.ready;
    const id = rt.nodeId!;
    await until(() => c.gcs.nodes.get(id)?.saidIdle === true, { what: 'the node said it holds nothing' });
    const keepalives = () => Number(c.statsJson()['traffic.keepalivesIn'] ?? 0);
    const k0 = keepalives();
    // Three idle windows: only keepalives keep it alive (no task, no other frame).
    await new Promise((r) => setTimeout(r, 9000));
    expect(c.gcs.nodes.has(id)).toBe(true);
    expect(keepalives() - k0).toBeGreaterThanOrEqual(4);
    const m = await cl.driver({});
    const inc = m.remote((x: number) => x + 1);
    expect(
      await m.get(
        Array.from({ length: 20 }, (_, i) => inc.remote(i)),
        { timeoutMs: 20_000 },
      ),
    ).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Idle again, asleep again, and alive.
    await until(() => c.gcs.nodes.get(id)?.saidIdle === true, { what: 'the node said it holds nothing again', timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 4000));
    expect(c.gcs.nodes.has(id)).toBe(true);
    expect(c.gcs.stats.tasksRetried).toBe(0);
  }, 60_000);
});
