// A coordinator that has stopped writes nothing more: a job that ends after its close (a submitted job's process
// whose launch finished as the server stopped, a grace timer, a mesh janitor) is left as it was, running, so that the
// next start on the same data runs it again (README: a job running when the coordinator stopped runs again). Before
// session 37 such an end wrote to the closed GCS and threw `... is closed` from an event handler: an unhandled error
// that failed a whole vitest run (seen in the shared workers after test/integration/job-history).
import { afterEach, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { connect } from '../../edge/index.js';
import type { JobId } from '../../shared/ids.js';

describe('a closed coordinator', () => {
  let running: RunningCoordinator | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("ends no job after its close: the job's record stays as it was, nothing is written, nothing throws", async () => {
    running = await startCoordinator({ port: 0, memory: true, token: 't', httpLimits: false });
    const mesh = await connect({ url: running.url, token: 't' });
    const ref = mesh.put({ kept: true });
    expect(await mesh.get(ref)).toEqual({ kept: true });
    const jobId = mesh.runtimeContext().jobId as JobId;
    const c = running.coordinator;
    expect(c.gcs.jobs.get(jobId)?.state).toBe('running');
    const r = running;
    running = undefined;
    await r.close();
    expect(() => c.endJob(jobId, 'ended after the close')).not.toThrow();
    expect(c.gcs.jobs.get(jobId)?.state).toBe('running');
    await mesh.close().catch(() => {});
  });
});
