// A driver whose coordinator comes back without its job (an in-memory GCS restarted; a job row a crash caught
// unwritten) is refused when it resumes, gives up after reconnectTimeoutMs, and fails the gets that wait: before
// session 38 a get without a timeout waited for good (the driver's link closed, its readiness waiters never woken).
import { afterEach, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { TabmeshError } from '../../shared/errors.js';

let running: RunningCoordinator | undefined;
let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  await running?.close();
  running = undefined;
});

it('a get waiting when the driver gives up reconnecting fails with the reason', async () => {
  const first = await startCoordinator({ port: 0, memory: true, token: 't', httpLimits: false });
  const port = Number(new URL(first.url).port);
  mesh = await connect({ url: first.url, token: 't', reconnectTimeoutMs: 2000, reconnectMaxMs: 200 });
  const f = mesh.remote((x: number) => x);
  const refs = Array.from({ length: 20 }, (_, i) => f.remote(i)); // no node: they wait
  const all = mesh.get(refs).then(
    () => null,
    (e: unknown) => e,
  );
  await first.close();
  running = await startCoordinator({ port, memory: true, token: 't', httpLimits: false });
  const outcome = await Promise.race([all, new Promise((r) => setTimeout(() => r('still waiting'), 30_000))]);
  expect(outcome).toBeInstanceOf(TabmeshError);
  expect((outcome as TabmeshError).code).toBe('CLOSED');
  expect((outcome as Error).message).toMatch(/could not reconnect/);
}, 60_000);
