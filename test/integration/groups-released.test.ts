// A member its owner released while it was still queued, then made an ordinary task by the coordinator (no node
// takes groups, or a link has room: group-materialize.ts ordinary()): the owner's hold on its output, which the
// owner never learns to release, is dropped at once, so the object goes when the task ends (not at the job's end).
import { afterEach, it } from 'vitest';
import { encodeValue } from '../../shared/codec.js';
import { returnObjectId } from '../../shared/ids.js';
import { memberId, rawGroup } from '../helpers/raw-client.js';
import { GroupWorlds } from '../helpers/group-world.js';

const TOKEN = 'groups-released';
const gw = new GroupWorlds(TOKEN);
afterEach(() => gw.close());

it('members released while queued, then made ordinary tasks, leave no object behind once they ran', async () => {
  const { c, driver, job, fn } = await gw.start();
  driver.send(
    rawGroup(
      job,
      fn,
      0,
      [0, 1, 2, 3, 4].map((x) => [encodeValue(x).bytes]),
    ),
  );
  await driver.until(() => c.statsJson().groupMembersQueued === 5, 'queued members');
  // No node yet: the owner drops three of them while they wait.
  driver.send({ t: 'groupRelease', g: memberId(job, 0, 0), idx: [0, 1, 2] });
  await driver.until(() => c.groups!.table.groups.get(memberId(job, 0, 0))?.dropped?.[2] === 1, 'released');
  // A node that takes no groups: the queued members become ordinary tasks (the two still held are told moved).
  const n = await gw.node('plain', 2, false);
  const answered = new Set<string>();
  await n.until(() => {
    for (const a of n.of('assign')) {
      if (answered.has(a.spec.taskId)) continue;
      answered.add(a.spec.taskId);
      n.send({ t: 'done', taskId: a.spec.taskId, attempt: a.spec.attempt, ms: 1, results: [{ v: encodeValue(1).bytes, refs: [] }] });
    }
    return answered.size === 5;
  }, 'five assigns');
  await driver.until(() => c.statsJson().tasksFinished === 5, 'five finished');
  // The owner releases the two it held, the classic way (they moved): nothing of the group stays.
  driver.send({ t: 'release', ids: [3, 4].map((i) => returnObjectId(memberId(job, 0, i), 0)) });
  await driver.until(() => {
    const s = c.statsJson();
    return s.objects === 0 && s.tasks === 0 && s.groups === 0;
  }, 'no object, task or group left');
});
