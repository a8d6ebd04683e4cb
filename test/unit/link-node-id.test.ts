// A link node's id is its coordinator's mesh id (issue 14, session 22): the same for every link session that stands
// for that coordinator, so that a pin to it survives a link flap (test/redis/mesh-pin-flap). Two sessions of one
// link can then name one id for a moment: the old one closing behind its last frames while the new one says hello.
// The new one's record is the node from then on; the old session's close and late frames do not touch it.
// White-box: a real Coordinator (in-memory GCS), link sessions as coordinator/mesh/links.ts opens them.
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { Session } from '../../coordinator/session.js';
import { BusSocket } from '../../coordinator/mesh/bus.js';
import { pinnedToMissingNode } from '../../coordinator/scheduler/placement-rules.js';
import { taskRecord } from '../helpers/task-record.js';
import { newJobId, randomHex, type NodeId } from '../../shared/ids.js';

const made: Coordinator[] = [];
afterEach(() => {
  for (const co of made.splice(0)) co.close();
});

function coordinator(): Coordinator {
  const co = new Coordinator({ storage: new MemoryStorage() });
  made.push(co);
  return co;
}

/** A session of coordinator `co`, the link of peer `peer` when given. */
function session(co: Coordinator, peer?: string): Session {
  const s = new Session(
    new BusSocket(
      () => {},
      () => {},
    ).asWebSocket(),
    peer ? `coordinator ${peer}` : 'node',
  );
  s.meshLink = peer;
  s.role = 'node';
  co.sessions.add(s);
  return s;
}

const info = (name: string) => ({ kind: 'edge' as const, name, resources: { cpu: 2 }, storeBytes: 0 });

describe("a link node's id", () => {
  it("is its coordinator's mesh id, whichever session stands for it; other nodes get fresh ids", () => {
    const co = coordinator();
    const peer = randomHex(8);
    const first = co.membership.join(session(co, peer), info(`coordinator ${peer}`));
    expect(first.id).toBe(peer);
    const plain = co.membership.join(session(co), info('edge'));
    expect(plain.id).not.toBe(peer);
    // Not an id's shape (another process's word): a fresh id, as any node's.
    const odd = co.membership.join(session(co, 'not-hex'), info('coordinator not-hex'));
    expect(odd.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it("a new session's hello while the old one is closing: the new one is the node; the old close leaves it alone", () => {
    const co = coordinator();
    const peer = randomHex(8);
    const old = session(co, peer);
    const was = co.membership.join(old, info(`coordinator ${peer}`));
    // The old session is closing behind its last frames (it has not closed yet) when the new one says hello.
    const now = session(co, peer);
    const n = co.membership.join(now, info(`coordinator ${peer}`));
    expect(n).not.toBe(was);
    expect(co.gcs.nodes.get(peer as never)).toBe(n);
    expect(co.membership.nodeOf(old)).toBeUndefined();
    expect(co.membership.nodeOf(now)).toBe(n);
    expect(co.gcs.events.some((e) => e.kind === 'node-lost' && e.message.includes('its coordinator linked again'))).toBe(true);
    // Its close comes at last: the node that stands for the peer now stays.
    co.onClose(old, 1006);
    expect(co.gcs.nodes.get(peer as never)).toBe(n);
    expect(co.membership.links).toBe(1);
    expect(co.scheduler.nodeList).toContain(n);
    expect(co.scheduler.nodeList).not.toContain(was);
  });

  it('a hard pin to a link that is not here waits while its coordinator lives, and names it gone once it does not', () => {
    const co = coordinator();
    const peer = randomHex(8);
    const t = taskRecord(newJobId(), 0, 'pinned');
    t.spec = { ...t.spec, scheduling: { node: peer as NodeId, soft: false } };
    let alive = true;
    co.gcs.nodeExpected = (id) => alive && id === peer;
    expect(pinnedToMissingNode(t, co.gcs)).toBeNull();
    alive = false;
    expect(pinnedToMissingNode(t, co.gcs)).toBe(peer);
  });
});
