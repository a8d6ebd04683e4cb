// A driver's side of direct submission (shared/api/driver-direct.ts, issue 14): at most
// DIRECT_MAX_IN_FLIGHT tasks in flight to leased nodes. A batch submitted in one turn
// finds them in flight once: nothing can answer them before the turn ends, so the rest
// of its submits go to the coordinator without looking the in-flight results up again.
import { describe, expect, it } from 'vitest';
import { DriverDirect } from '../../shared/api/driver-direct.js';
import { newJobId, type ObjectId } from '../../shared/ids.js';
import { taskSpec } from '../helpers/task-record.js';
import { DIRECT_MAX_IN_FLIGHT } from '../../shared/protocol/direct.js';
import type { FunctionSource, TaskSpec } from '../../shared/protocol/messages.js';
import type { PeerLinks } from '../../shared/transfer/links.js';

const job = newJobId();
const fn: FunctionSource = { fnId: 'f'.repeat(32) as FunctionSource['fnId'], kind: 'function', name: 'noop', source: 'function noop() {}' };

const spec = (i: number): TaskSpec => taskSpec(job, i, 'noop', { fnId: fn.fnId, maxRetries: 3, scheduling: undefined });

function driver() {
  const sent: Uint8Array[] = [];
  const links = { sendDirect: (_peer: string, b: Uint8Array) => (sent.push(b), true) } as unknown as PeerLinks;
  const looked: ObjectId[] = [];
  const d = new DriverDirect(
    links,
    () => fn,
    (id) => (looked.push(id), true), // every result still awaited
    () => {},
    () => {},
  );
  d.lease({ t: 'lease', peer: 'a'.repeat(16), on: true } as never);
  return { d, sent, looked };
}

describe("a driver's direct submissions", () => {
  it('a batch of 100 submits in one turn: 4 go straight to the node, the others look the in-flight results up once', async () => {
    const { d, sent, looked } = driver();
    const to = [];
    for (let i = 0; i < 100; i++) to.push(d.send(spec(i)));
    expect(to.filter((x) => x !== undefined)).toHaveLength(DIRECT_MAX_IN_FLIGHT);
    expect(sent).toHaveLength(DIRECT_MAX_IN_FLIGHT);
    expect(looked).toHaveLength(DIRECT_MAX_IN_FLIGHT);
    // A later turn looks again: a result may have been answered or released meanwhile.
    await Promise.resolve();
    expect(d.send(spec(100))).toBeUndefined();
    expect(looked).toHaveLength(2 * DIRECT_MAX_IN_FLIGHT);
  });
});
