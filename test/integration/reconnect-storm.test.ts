// A reconnect storm from one address past the coordinator's per-address
// limits (issue 14): every node is told when to come back and is admitted at
// the configured rate, refused about once. A real coordinator, real sockets,
// real NodeRuntimes whose executors run in this thread, rejoining as edge
// nodes do (shared/backoff.ts joinAgain). Counts, not timings.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { BACKOFF, joinAgain, retryHint } from '../../shared/backoff.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import { inThread } from '../helpers/in-thread.js';
import { until } from '../helpers/poll.js';

let c: RunningCoordinator | undefined;
const nodes: NodeRuntime[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  await c?.close();
  c = undefined;
});

// A rate low enough that the storm lasts seconds however fast this process opens sockets (on a loaded machine too).
const N = 60;
const BURST = 10;
const RATE = 10;

/** Joins `n` nodes at once, each through joinAgain; answers the refusals they met, by close reason. */
async function storm(url: string, n: number): Promise<string[]> {
  const refusals: string[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const ok = await joinAgain(
        async () => {
          const rt = new NodeRuntime(
            { url, kind: 'edge', name: `storm-${i}`, cpus: 1, storeBytes: 1 << 20 },
            { WebSocket: WebSocket as unknown as WebSocketCtor, spawnExecutor: inThread },
          );
          try {
            await rt.ready;
          } catch (e) {
            refusals.push((e as Error).message);
            throw e;
          }
          nodes.push(rt);
        },
        BACKOFF.nodeRejoin,
        'connection closed (1006)',
        () => false,
      );
      expect(ok).toBe(true);
    }),
  );
  return refusals;
}

describe('a reconnect storm from one address past its limits', () => {
  it(`${N} nodes at once, bursts of ${BURST} and ${RATE} a second: all admitted, the refused ones told their slot and refused about once`, async () => {
    c = await startCoordinator({ port: 0, memory: true, limits: { connectionsBurstPerAddress: BURST, connectionsPerSecPerAddress: RATE } });
    const stats = () => c!.coordinator.statsJson();
    const refusals = await storm(c.url, N);
    await until(() => stats().nodes === N);
    const s = stats();
    // Every node joined once; every refusal was the rate's, with a slot to come back at.
    expect(s.nodesJoined).toBe(N);
    expect(refusals.length).toBe(s.limit_CONNECTING_TOO_FAST);
    // Most nodes past the burst were refused, and about once each (nodes on their own backoff: several times).
    expect(refusals.length).toBeGreaterThanOrEqual((N - BURST) / 2);
    expect(refusals.length).toBeLessThanOrEqual(1.5 * (N - BURST));
    expect(refusals.every((why) => /CONNECTING_TOO_FAST/.test(why) && retryHint(why) !== undefined)).toBe(true);

    // Their connections all drop at once (cut on the coordinator's side) and they come back, on the bucket the first storm spent.
    const before = s.limit_CONNECTING_TOO_FAST;
    const dropped = nodes.splice(0);
    for (const session of c.coordinator.sessions) session.ws.terminate();
    await Promise.all(dropped.map((n) => n.closedPromise));
    await until(() => stats().nodes === 0);
    const again = await storm(c.url, N);
    await until(() => stats().nodes === N);
    const s2 = stats();
    expect(s2.nodesJoined).toBe(2 * N);
    expect(again.length).toBe(s2.limit_CONNECTING_TOO_FAST - before);
    expect(again.length).toBeLessThanOrEqual(1.5 * N);
  }, 120_000);
});
