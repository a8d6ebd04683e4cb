// A guest task's end is reported on the link session that placed it (issue 14).
// The peer closed that session (it took us for gone) and re-queued what it held;
// our agent said hello again and was welcomed on a new session, under the same
// node id (a link's id is its coordinator's mesh id). A report of the old
// placement on the new session was "a result for a task never assigned" there:
// an offence, the new link distrusted and closed, its tasks lost again (seen in
// test/redis/fence under load). The run goes on here, and the peer's next
// placement of the task (its next attempt) gets the report.
// White-box: a real Coordinator (in-memory GCS), the guest side as an agent runs it.
import { afterEach, describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { Session } from '../../coordinator/session.js';
import { BusSocket } from '../../coordinator/mesh/bus.js';
import { GuestJobs } from '../../coordinator/mesh/guest-jobs.js';
import { PeerAgent } from '../../coordinator/mesh/agent.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { sleep } from '../helpers/poll.js';
import { taskSpec } from '../helpers/task-record.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { newJobId, newNodeId } from '../../shared/ids.js';
import type { Msg } from '../../shared/protocol/messages.js';

const made: Coordinator[] = [];
afterEach(async () => {
  await new Promise((r) => setImmediate(r));
  for (const co of made.splice(0)) co.close();
});

const fn = { kind: 'function' as const, name: 'anonymous', source: 'async (i) => i * 5 + 2' };
const fnId = functionIdOf(fn);

function session(label: string): Session {
  return new Session(
    new BusSocket(
      () => {},
      () => {},
    ).asWebSocket(),
    label,
  );
}

describe('guest task reports and link sessions', () => {
  it('a task placed on a link session the peer closed is reported only once the peer places it again, as that attempt', () => {
    const co = new Coordinator({ storage: new MemoryStorage() });
    made.push(co);
    co.gcs.addFunction({ ...fn, fnId });
    const job = newJobId();
    const spec = taskSpec(job, 0, 'anonymous', { fnId, args: [{ v: pack(1) }], maxRetries: 3, scheduling: undefined });
    const sent: Msg[] = [];
    let link: { node: string; session: number } | null = { node: 'node-x', session: 1 };
    const guests = new GuestJobs(
      co,
      'peer',
      session('coordinator peer'),
      (m) => void sent.push(m),
      () => link,
    );
    co.tasks.onEnded = (t) => guests.ended(t);
    guests.assign({ t: 'assign', spec: structuredClone(spec), inline: [] });
    // The peer closed our session: we are welcomed again, as node-x still (our id there is our mesh id), on its
    // second session; the task ends meanwhile.
    link = { node: 'node-x', session: 2 };
    const t = co.gcs.tasks.get(spec.taskId)!;
    co.tasks.completeDone(t, { t: 'done', taskId: spec.taskId, attempt: 0, ms: 1, results: [{ v: pack(7), refs: [] }] }, session('node'));
    expect(sent.filter((m) => m.t === 'done' || m.t === 'failed')).toEqual([]);
    // The peer re-queued it and places it on the new session as attempt 1: the run that ended here is its report.
    guests.assign({ t: 'assign', spec: { ...structuredClone(spec), attempt: 1 }, inline: [] });
    const ends = sent.filter((m) => m.t === 'done' || m.t === 'failed');
    expect(ends.map((m) => [m.t, 'attempt' in m ? m.attempt : -1])).toEqual([['done', 1]]);
  });
});

describe('a peer agent told its link ended', () => {
  it('says hello again at once when it was welcomed, and keeps the hello interval when it was not (a refused hello does not loop)', async () => {
    const co = new Coordinator({ storage: new MemoryStorage() });
    made.push(co);
    const hellos: number[] = [];
    const agent = new PeerAgent(
      co,
      'peer',
      (f) => {
        for (const m of decodeFrame(f)) if (m.t === 'hello') hellos.push(Date.now());
      },
      undefined,
    );
    try {
      await sleep(30);
      expect(hellos).toHaveLength(1);
      // Refused (its session closed before any welcome): the peer's agentEnd, again and again.
      for (let i = 0; i < 5; i++) agent.linkEnded();
      await sleep(30);
      expect(hellos).toHaveLength(1);
      // Welcomed, then the peer closes our session: hello at once.
      agent.onFrame(encodeFrame([{ t: 'welcome', nodeId: newNodeId(), inlineMax: 65536, heartbeatMs: 1000 }]));
      agent.linkEnded();
      await sleep(30);
      expect(hellos).toHaveLength(2);
    } finally {
      agent.close();
    }
  });
});
