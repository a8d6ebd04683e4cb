// A member its owner released while it was still queued, then made an ordinary task by the coordinator (no node
// takes groups, or a link has room: group-materialize.ts ordinary()): the owner's hold on its output, which the
// owner never learns to release, is dropped at once, so the object goes when the task ends (not at the job's end).
import { afterEach, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { encodeValue } from '../../shared/codec.js';
import { returnObjectId, type JobId } from '../../shared/ids.js';
import { memberId, rawClient, rawFn, rawGroup, rawNode, type RawClient } from '../helpers/raw-client.js';

const TOKEN = 'groups-released';
let rc: RunningCoordinator | null = null;
const clients: RawClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await rc?.close();
  rc = null;
});

it('members released while queued, then made ordinary tasks, leave no object behind once they ran', async () => {
  rc = await startCoordinator({ port: 0, memory: true, token: TOKEN, heartbeatMs: 500, deadAfterMs: 60_000 });
  const driver = await rawClient(rc.url, { role: 'driver', token: TOKEN, groups: true });
  clients.push(driver);
  const job = driver.welcome.jobId as JobId;
  const fn = rawFn('(x) => x * x', 'sq');
  driver.send(fn);
  driver.send(
    rawGroup(
      job,
      fn,
      0,
      [0, 1, 2, 3, 4].map((x) => [encodeValue(x).bytes]),
    ),
  );
  await driver.until(() => rc!.coordinator.statsJson().groupMembersQueued === 5, 'queued members');
  // No node yet: the owner drops three of them while they wait.
  driver.send({ t: 'groupRelease', g: memberId(job, 0, 0), idx: [0, 1, 2] });
  await driver.until(() => rc!.coordinator.groups!.table.groups.get(memberId(job, 0, 0))?.dropped?.[2] === 1, 'released');
  // A node that takes no groups: the queued members become ordinary tasks (the two still held are told moved).
  const n = await rawNode(rc.url, 'plain', 2, false);
  clients.push(n);
  const answered = new Set<string>();
  await n.until(() => {
    for (const a of n.of('assign')) {
      if (answered.has(a.spec.taskId)) continue;
      answered.add(a.spec.taskId);
      n.send({ t: 'done', taskId: a.spec.taskId, attempt: a.spec.attempt, ms: 1, results: [{ v: encodeValue(1).bytes, refs: [] }] });
    }
    return answered.size === 5;
  }, 'five assigns');
  await driver.until(() => rc!.coordinator.statsJson().tasksFinished === 5, 'five finished');
  // The owner releases the two it held, the classic way (they moved): nothing of the group stays.
  driver.send({ t: 'release', ids: [3, 4].map((i) => returnObjectId(memberId(job, 0, i), 0)) });
  await driver.until(() => {
    const s = rc!.coordinator.statsJson();
    return s.objects === 0 && s.tasks === 0 && s.groups === 0;
  }, 'no object, task or group left');
});
