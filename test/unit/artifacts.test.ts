// The artifact registry (coordinator/objects/artifacts.ts, issue 16): after a
// coordinator restart the GCS runs a job's unfinished tasks again before its
// driver resumed and declared the job's artifacts (they are not rows). A node
// asking for such an artifact waits for the declaration (up to the job grace)
// instead of failing the task with "unknown or was freed" — the flake of
// test/fault/restart's artifacts case.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Gcs } from '../../coordinator/gcs/gcs.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { ArtifactRegistry } from '../../coordinator/objects/artifacts.js';
import { ObjectDirectory } from '../../coordinator/objects/directory.js';
import type { Session } from '../../coordinator/session.js';
import { contentHash } from '../../shared/hash.js';
import { artifactObjectId, newJobId, putObjectId, rootTaskId } from '../../shared/ids.js';
import type { Msg } from '../../shared/protocol/messages.js';

type Fake = Session & { sent: Msg[] };

function session(label: string, role: 'driver' | 'node', jobId: string | null = null): Fake {
  const sent: Msg[] = [];
  return { label, role, jobId, closed: false, sent, send: (m: Msg) => sent.push(m) } as unknown as Fake;
}

function world(waitMs = 1000) {
  const gcs = new Gcs(new MemoryStorage());
  const dir = new ObjectDirectory(gcs, { settled: () => {}, freed: () => {}, lost: () => {} });
  return { gcs, dir, reg: new ArtifactRegistry(gcs, dir, waitMs) };
}

const bytes = new TextEncoder().encode('export const x = 1;');
const hash = contentHash(bytes);
const id = artifactObjectId(hash);

afterEach(() => {
  vi.useRealTimers();
});

describe('artifact registry', () => {
  it('a node asking for an artifact before its driver declared it is answered once the driver puts it', () => {
    const { reg } = world();
    const job = newJobId();
    const node = session('node a', 'node');
    reg.subscribe(node, [id]);
    expect(node.sent).toEqual([]); // not "unknown": it waits

    const driver = session('driver', 'driver', job);
    expect(reg.offer(driver, { t: 'artifact', arts: [{ hash, size: bytes.byteLength }] })).toBeNull();
    expect(driver.sent).toEqual([{ t: 'upload', hash }]);
    expect(node.sent).toEqual([]); // declared, still pending: subscribed for real
    expect(reg.put(driver, { t: 'put', id, v: bytes, size: bytes.byteLength, refs: [] })).toBeNull();
    expect(node.sent).toHaveLength(1);
    expect(node.sent[0]).toMatchObject({ t: 'ready', id, size: bytes.byteLength });
    expect((node.sent[0] as { failure?: unknown }).failure).toBeUndefined();
  });

  it('an artifact nobody declares within the wait is answered as unknown', () => {
    vi.useFakeTimers();
    const { reg } = world(500);
    const node = session('node a', 'node');
    reg.subscribe(node, [id]);
    vi.advanceTimersByTime(499);
    expect(node.sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(node.sent).toHaveLength(1);
    expect(node.sent[0]).toMatchObject({ t: 'ready', id, failure: { code: 'OBJECT_LOST' } });
  });

  it('other unknown objects are answered at once, and a closed node is not answered', () => {
    vi.useFakeTimers();
    const { reg } = world(500);
    const node = session('node a', 'node');
    const gone = session('node b', 'node');
    const other = putObjectId(rootTaskId(newJobId()), 0);
    reg.subscribe(node, [other]);
    expect(node.sent[0]).toMatchObject({ t: 'ready', id: other, failure: { code: 'OBJECT_LOST' } });
    reg.subscribe(gone, [id]);
    gone.closed = true;
    reg.dropSession(gone);
    vi.advanceTimersByTime(500);
    expect(gone.sent).toEqual([]);
  });
});
