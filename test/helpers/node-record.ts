// A hand-made node record for white-box tests of the coordinator (scheduler,
// node index, pages, cluster document): an idle edge node of 1 CPU unless
// `o` says otherwise. Its session is a stand-in that only has a label.
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import type { Session } from '../../coordinator/session.js';
import { newNodeId } from '../../shared/ids.js';
import { NO_TASKS } from '../../coordinator/nodes/load.js';

/** A session stand-in: a label (and whatever else a test adds). */
export function fakeSession(label: string, extra: Record<string, unknown> = {}): Session {
  return { label, ...extra } as unknown as Session;
}

export function nodeRecord(name: string, o: Partial<NodeRecord> = {}): NodeRecord {
  const now = Date.now();
  return {
    id: newNodeId(),
    session: fakeSession(name),
    kind: 'edge',
    name,
    resources: { cpu: 1 },
    inflight: {},
    inflightTasks: 0,
    actorCpu: 0,
    tasks: NO_TASKS,
    functions: new Set(),
    joinedAt: now,
    lastSeen: now,
    load: { running: 0, queued: 0, storeBytes: 0 },
    tasksDone: 0,
    ...o,
  };
}
