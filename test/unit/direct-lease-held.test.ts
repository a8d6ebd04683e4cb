// A held node's direct-submission leases (session 38; coordinator/nodes/hold.ts): the coordinator keeps the lease
// (what is on its way is recorded, not lost) and tells the drivers that said `suspend` that the node is held; such a
// driver sends that node nothing new until it is back or lost. A driver that did not say it (an older one) is told
// nothing: its tasks wait on the held node, as on a slow one. The message is checked at the wire like every other.
import { describe, expect, it } from 'vitest';
import { DriverDirect } from '../../shared/api/driver-direct.js';
import { DirectLeases } from '../../coordinator/scheduler/direct-leases.js';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import type { JobRecord, NodeRecord } from '../../coordinator/gcs/tables.js';
import { messageCheck, type FunctionSource, type Msg, type TaskSpec } from '../../shared/protocol/messages.js';
import { newJobId, newNodeId } from '../../shared/ids.js';
import type { PeerLinks } from '../../shared/transfer/links.js';
import { taskSpec } from '../helpers/task-record.js';
import { fakeSession } from '../helpers/fake-session.js';

const job = newJobId();
const fn: FunctionSource = { fnId: 'f'.repeat(32) as FunctionSource['fnId'], kind: 'function', name: 'noop', source: 'function noop() {}' };
const spec = (i: number): TaskSpec => taskSpec(job, i, 'noop', { fnId: fn.fnId, maxRetries: 3, scheduling: undefined });

describe("a held node's leases", () => {
  it('the driver sends nothing new to a held node (through the coordinator, or to another leased node), and uses it again once back', () => {
    const to: string[] = [];
    const links = { sendDirect: (peer: string) => (to.push(peer), true) } as unknown as PeerLinks;
    const d = new DriverDirect(
      links,
      () => fn,
      () => false,
      () => {},
      () => {},
    );
    const [a, b] = [newNodeId(), newNodeId()];
    d.lease({ t: 'lease', peer: a, on: true });
    expect(d.send(spec(0))).toBe(a);
    d.lease({ t: 'lease', peer: a, on: true, held: true });
    expect(d.heldNodes).toBe(1);
    expect(d.send(spec(1))).toBeUndefined();
    d.lease({ t: 'lease', peer: b, on: true });
    expect(d.send(spec(2))).toBe(b);
    d.lease({ t: 'lease', peer: a, on: true });
    expect(d.heldNodes).toBe(0);
    expect(d.send(spec(3))).toBe(a);
    // Held, then lost: the lease goes, and its held mark with it.
    d.lease({ t: 'lease', peer: a, on: true, held: true });
    d.lease({ t: 'lease', peer: a, on: false });
    expect(d.heldNodes).toBe(0);
    expect(to).toEqual([a, b, a]);
  });

  it('the coordinator tells the drivers that said `suspend` (not an older driver), and revokes nothing', () => {
    const nodes = new Map<string, NodeRecord>();
    const jobs = new Map<string, JobRecord>();
    const gcs = { nodes, jobs, event() {} } as unknown as Gcs;
    const leases = new DirectLeases(gcs);
    const ns = Object.assign(fakeSession('node'), { direct: true });
    const n = { id: newNodeId(), session: ns } as unknown as NodeRecord;
    ns.nodeId = n.id;
    nodes.set(n.id, n);
    const newer = Object.assign(fakeSession('newer'), { direct: true, suspend: true });
    const older = Object.assign(fakeSession('older'), { direct: true, suspend: false });
    for (const driver of [newer, older]) {
      const j = { id: newJobId(), driver, state: 'running' } as unknown as JobRecord;
      jobs.set(j.id, j);
      leases.grant(j.id, n);
    }
    const leaseMsgs = (s: { sent: Msg[] }) => s.sent.filter((m) => m.t === 'lease');
    leases.held(n, true);
    leases.held(n, false);
    expect(leaseMsgs(newer)).toEqual([
      { t: 'lease', peer: n.id, on: true },
      { t: 'lease', peer: n.id, on: true, held: true },
      { t: 'lease', peer: n.id, on: true },
    ]);
    expect(leaseMsgs(older)).toEqual([{ t: 'lease', peer: n.id, on: true }]);
    expect(leases.revoked).toBe(0);
    expect([leases.suspended, leases.resumed]).toEqual([1, 1]);
    // Each message passes the wire's check.
    for (const m of leaseMsgs(newer)) expect(messageCheck(m, 'm')).toBeNull();
  });

  it('`held` and `suspend` are checked at the wire', () => {
    const peer = newNodeId();
    expect(messageCheck({ t: 'lease', peer, on: true, held: true }, 'm')).toBeNull();
    for (const held of ['yes', 1]) expect(messageCheck({ t: 'lease', peer, on: true, held }, 'm')).toMatch(/^m\.held: /);
    expect(messageCheck({ t: 'hello', role: 'driver', version: 1, suspend: 'yes' }, 'm')).toMatch(/suspend/);
  });
});
