// Task groups across a coordinator restart (docs/decisions.md "Task groups": groups are not in the durable GCS;
// their owner sends them again). A coordinator SIGKILLed in the middle of a job of groups, one member of which was
// passed to another task (materialized: an ordinary record, durable), is started again on its data folder: the
// driver resumes, sends its groups again, the results are exact, and once freed the coordinator holds nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/poll.js';
import { cleanupProcesses, dataCoordinator, FAST_REJOIN, restartablePort, runNode, stats, tempDir, TEST_REJOIN_MAX_MS } from '../helpers/processes.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  cleanupProcesses();
});

describe('task groups across a coordinator restart', () => {
  it('the owner sends its groups again to the restarted coordinator: exact results, a materialized member kept, drained after free', async () => {
    const data = tempDir('tabmesh-groups-restart-');
    const token = 'groups-restart-' + Math.random().toString(36).slice(2);
    let c = await dataCoordinator(data, token, await restartablePort(), ['--groups']);
    const port = Number(new URL(c.url).port);
    runNode(c.url, 2, FAST_REJOIN);
    await until(async () => ((await stats(c.url, token))?.nodes ?? 0) >= 1, { timeoutMs: 60_000, what: () => 'a node' });
    mesh = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS });
    const m = mesh;
    const work = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 3));
      return i * 7;
    });
    const twice = m.remote((x: number) => x * 2);
    const refs = Array.from({ length: 1500 }, (_, i) => work.remote(i));
    const passed = twice.remote(refs[5]); // member 5 leaves its group: an ordinary task on record
    const all = m.get(refs, { timeoutMs: 120_000 });
    await until(async () => ((await stats(c.url, token))?.tasksFinished ?? 0) >= 200, { timeoutMs: 60_000, what: () => 'under way' });
    expect((await stats(c.url, token))!.groupsSubmitted).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100)); // the durable GCS's writes of the materialized member (grouped every 20 ms)
    c.proc.kill('SIGKILL');
    await new Promise((r) => c.proc.once('exit', r));
    c = await dataCoordinator(data, token, port, ['--groups']);
    expect(await all).toEqual(Array.from({ length: 1500 }, (_, i) => i * 7));
    expect(await m.get(passed)).toBe(70);
    // The job's counts (session 27): 1,500 members and the task given member 5, each once. The members come again with
    // their group; member 5 and that task are records read back (the job's row keeps the counts of its start only).
    const progress = async () =>
      (
        (await (await fetch(`${c.url}/api/jobs/${m.jobId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
          progress: { total: number; done: number };
        }
      ).progress;
    let seen: { total: number; done: number } | undefined;
    await until(async () => (seen = await progress()).done >= 1501, { timeoutMs: 20_000, what: () => `1501 done: ${JSON.stringify(seen)}` });
    expect(seen).toMatchObject({ total: 1501, done: 1501 });
    const after = (await stats(c.url, token))!;
    expect(after.groupsSubmitted).toBeGreaterThan(0); // sent again by their owner
    m.free([...refs, passed]);
    let last: Record<string, number> | undefined;
    await until(
      async () => {
        const s = (last = await stats(c.url, token));
        return s !== undefined && s.tasks === 0 && s.objects === 0 && s.groups === 0;
      },
      {
        timeoutMs: 20_000,
        what: () => `drained: tasks ${last?.tasks} objects ${last?.objects} groups ${last?.groups} (queued members ${last?.groupMembersQueued})`,
      },
    );
  }, 180_000);
});
