// A session's input is handled a slice per event-loop turn (issue 14: no
// stall over 50 ms): a message of thousands of ids is cut first, and a
// session that closes with frames still waiting has them handled, in order
// and still sliced, before its close is processed.
// White-box: a real Coordinator (in-memory GCS) and a session over a fake
// socket; performance.now advances 1 ms per call, so slices end at known places.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { SPLIT_IDS, splitHeavy } from '../../coordinator/message-slices.js';
import { Session } from '../../coordinator/session.js';
import { handlers, type Handler } from '../../coordinator/handlers.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg } from '../../shared/protocol/messages.js';
import { putObjectId, rootTaskId, newJobId, type ObjectId } from '../../shared/ids.js';

let c: Coordinator | null = null;
afterEach(() => {
  vi.restoreAllMocks();
  c?.close();
  c = null;
});

const ids = (n: number): ObjectId[] => {
  const root = rootTaskId(newJobId());
  return Array.from({ length: n }, (_, i) => putObjectId(root, i));
};

describe('cutting messages of many ids', () => {
  it('a release of 2,000 ids becomes consecutive releases of SPLIT_IDS ids, in order; other messages are left alone', () => {
    const all = ids(2000);
    const msgs: Msg[] = [
      { t: 'sync', x: 1 },
      { t: 'release', ids: all },
      { t: 'borrow', ids: all.slice(0, 3) },
    ];
    const out = splitHeavy(msgs);
    expect(out[0]).toBe(msgs[0]);
    const releases = out.filter((m) => m.t === 'release') as { ids: ObjectId[] }[];
    expect(releases).toHaveLength(Math.ceil(2000 / SPLIT_IDS));
    expect(releases.every((r) => r.ids.length <= SPLIT_IDS)).toBe(true);
    expect(releases.flatMap((r) => r.ids)).toEqual(all);
    expect(out.at(-1)).toBe(msgs[2]);
  });

  it('a frame with no large message is returned as it came (no copy on the hot path)', () => {
    const msgs: Msg[] = [{ t: 'release', ids: ids(SPLIT_IDS) }];
    expect(splitHeavy(msgs)).toBe(msgs);
  });
});

/** A session over a fake socket that records the frames sent to it. */
function session(co: Coordinator): { s: Session; got: Msg[] } {
  const got: Msg[] = [];
  const ws = { OPEN: 1, readyState: 1, bufferedAmount: 0, send: (f: Uint8Array) => got.push(...decodeFrame(f)), close() {}, terminate() {} };
  const s = new Session(ws as never, '127.0.0.1');
  co.sessions.add(s);
  return { s, got };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('a session closing with frames still waiting', () => {
  it('its waiting messages are handled in order, a slice per turn, and only then is it closed', async () => {
    const co = (c = new Coordinator({ storage: new MemoryStorage() }));
    const { s, got } = session(co);
    co.onFrame(s, encodeFrame([{ t: 'hello', role: 'driver', version: PROTOCOL_VERSION }]));
    await turn();
    const jobId = s.jobId!;
    expect(co.gcs.jobs.get(jobId)?.driver).toBe(s);
    // From here on every performance.now() is 1 ms later: a 10 ms slice handles a few dozen messages.
    const handled: number[] = [];
    const table = handlers as unknown as { sync: Handler<'sync'> };
    const sync = table.sync;
    vi.spyOn(table, 'sync').mockImplementation((co2, s2, m) => {
      handled.push(m.x);
      return sync(co2, s2, m);
    });
    let now = 1e6;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1));
    const count = 2000;
    co.onFrame(s, encodeFrame(Array.from({ length: count }, (_, x) => ({ t: 'sync', x }) as Msg)));
    co.onClose(s, 1006);
    // Not closed yet: what it sent first is handled first, over several turns.
    expect(co.sessions.has(s)).toBe(true);
    expect(co.gcs.jobs.get(jobId)?.driver).toBe(s);
    let turns = 0;
    while (co.sessions.has(s) && turns < 10_000) {
      await turn();
      turns++;
    }
    expect(turns).toBeGreaterThan(5);
    expect(co.sessions.has(s)).toBe(false);
    // A dropped driver's job waits for it: detached, not ended.
    expect(co.gcs.jobs.get(jobId)).toMatchObject({ state: 'running', driver: null });
    expect(handled).toEqual(Array.from({ length: count }, (_, x) => x));
    // Answers went out while it was open: the first slices' (the socket is gone for the rest).
    expect(got.filter((m) => m.t === 'sync').length).toBeGreaterThan(0);
  });
});

describe('a node closing with frames still waiting', () => {
  it('leaves the scheduler at once: nothing new is placed on it while its last frames are handled, then it is gone', async () => {
    const co = (c = new Coordinator({ storage: new MemoryStorage() }));
    const { s } = session(co);
    co.onFrame(
      s,
      encodeFrame([{ t: 'hello', role: 'node', version: PROTOCOL_VERSION, node: { kind: 'edge', name: 'n', resources: { cpu: 1 }, storeBytes: 1 << 20 } }]),
    );
    await turn();
    const n = co.gcs.nodes.get(s.nodeId!)!;
    expect(co.scheduler.index.has(n)).toBe(true);
    let now = 1e6;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1));
    co.onFrame(s, encodeFrame(Array.from({ length: 2000 }, (_, i) => ({ t: 'heartbeat', running: 0, queued: i % 3, storeBytes: 0 }) as Msg)));
    co.onClose(s, 1006);
    // Still a member while its frames are handled, but no longer a place for tasks.
    expect(co.sessions.has(s)).toBe(true);
    expect(co.gcs.nodes.get(n.id)).toBe(n);
    expect(co.scheduler.index.has(n)).toBe(false);
    let turns = 0;
    while (co.sessions.has(s) && turns < 10_000) {
      await turn();
      // Its heartbeats re-file nothing: it stays out.
      expect(co.scheduler.index.has(n)).toBe(false);
      turns++;
    }
    expect(turns).toBeGreaterThan(1);
    expect(co.gcs.nodes.get(n.id)).toBeUndefined();
  });
});

describe('one slice a turn for all sessions', () => {
  it('frames of 100 sessions arriving in one turn are handled a slice in all, not a slice each; the rest waits, in order, served round robin', async () => {
    const co = (c = new Coordinator({ storage: new MemoryStorage() }));
    const sessions = Array.from({ length: 100 }, () => session(co).s);
    for (const s of sessions) co.onFrame(s, encodeFrame([{ t: 'hello', role: 'driver', version: PROTOCOL_VERSION }]));
    await turn();
    const handled: [Session, number][] = [];
    const table = handlers as unknown as { sync: Handler<'sync'> };
    const sync = table.sync;
    vi.spyOn(table, 'sync').mockImplementation((co2, s2, m) => {
      handled.push([s2, m.x]);
      return sync(co2, s2, m);
    });
    // Every performance.now() is 1 ms later: a 10 ms slice is a few calls, checked every 8 messages.
    let now = 1e6;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1));
    const per = 300;
    const frame = encodeFrame(Array.from({ length: per }, (_, x) => ({ t: 'sync', x }) as Msg));
    // All in one turn, as when the poll phase reads 100 sockets.
    for (const s of sessions) co.onFrame(s, frame);
    // A slice each (the old way) handled at least 8 messages of each frame: 800 or more in this turn.
    expect(handled.length).toBeLessThanOrEqual(200);
    let turns = 0;
    const started = new Set<Session>();
    let allStartedAt = -1;
    let firstDoneAt = -1;
    while (handled.length < sessions.length * per && turns < 100_000) {
      await turn();
      turns++;
      for (const [s] of handled) started.add(s);
      if (allStartedAt < 0 && started.size === sessions.length) allStartedAt = turns;
      if (firstDoneAt < 0 && sessions.some((s) => handled.filter(([h]) => h === s).length === per)) firstDoneAt = turns;
    }
    expect(handled).toHaveLength(sessions.length * per);
    // Per session, in order.
    for (const s of sessions) expect(handled.filter(([h]) => h === s).map(([, x]) => x)).toEqual(Array.from({ length: per }, (_, x) => x));
    // Round robin: every session had a slice before any was done.
    expect(allStartedAt).toBeGreaterThan(0);
    expect(allStartedAt).toBeLessThanOrEqual(firstDoneAt);
    // Each turn handled one slice: many turns, a bounded number of messages each.
    expect(turns).toBeGreaterThan((sessions.length * per) / 200);
  });
});

describe('a release of many ids', () => {
  it('a driver freeing 20,000 refs in one message: each turn frees a slice of them, the clock read after every cut message', async () => {
    const co = (c = new Coordinator({ storage: new MemoryStorage() }));
    const { s } = session(co);
    co.onFrame(s, encodeFrame([{ t: 'hello', role: 'driver', version: PROTOCOL_VERSION }]));
    await turn();
    const perTurn: number[] = [0];
    const table = handlers as unknown as { release: Handler<'release'> };
    const release = table.release;
    vi.spyOn(table, 'release').mockImplementation((co2, s2, m) => {
      perTurn[perTurn.length - 1] += m.ids.length;
      return release(co2, s2, m);
    });
    let now = 1e6;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1));
    const count = 20_000;
    co.onFrame(s, encodeFrame([{ t: 'release', ids: ids(count) }]));
    let turns = 0;
    while (perTurn.reduce((a, b) => a + b, 0) < count && turns < 10_000) {
      perTurn.push(0);
      await turn();
      turns++;
    }
    expect(perTurn.reduce((a, b) => a + b, 0)).toBe(count);
    // ~10 clock readings a slice, one after each message of SPLIT_IDS ids; reading every 8 messages freed 8 x 512 between readings.
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(16 * SPLIT_IDS);
    expect(Math.max(...perTurn)).toBeLessThan(count / 4);
  });
});

describe('hellos in one turn', () => {
  it('100 drivers saying hello in one turn: a slice of them is welcomed that turn, the rest in later turns, all of them', async () => {
    const co = (c = new Coordinator({ storage: new MemoryStorage() }));
    const sessions = Array.from({ length: 100 }, () => session(co));
    let now = 1e6;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1));
    for (const { s } of sessions) co.onFrame(s, encodeFrame([{ t: 'hello', role: 'driver', version: PROTOCOL_VERSION }]));
    const welcomed = () => sessions.filter(({ s }) => s.role === 'driver').length;
    // Handled at once whatever the turn had spent, all 100 were welcomed in this turn.
    expect(welcomed()).toBeLessThan(50);
    let turns = 0;
    while (welcomed() < sessions.length && turns < 1000) {
      await turn();
      turns++;
    }
    expect(welcomed()).toBe(sessions.length);
    expect(sessions.every(({ got }) => got.some((m) => m.t === 'welcome'))).toBe(true);
  });
});

describe('a drain past its deadline', () => {
  it('100 sessions with a short frame waiting each: a turn past its slice starts no other session', async () => {
    const co = (c = new Coordinator({ storage: new MemoryStorage() }));
    const sessions = Array.from({ length: 100 }, () => session(co).s);
    for (const s of sessions) co.onFrame(s, encodeFrame([{ t: 'hello', role: 'driver', version: PROTOCOL_VERSION }]));
    for (let i = 0; i < 20 && sessions.some((s) => s.role !== 'driver'); i++) await turn();
    const perTurn: number[] = [0];
    const table = handlers as unknown as { sync: Handler<'sync'> };
    const sync = table.sync;
    vi.spyOn(table, 'sync').mockImplementation((co2, s2, m) => {
      perTurn[perTurn.length - 1]++;
      return sync(co2, s2, m);
    });
    let now = 1e6;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1));
    const frame = encodeFrame(Array.from({ length: 5 }, (_, x) => ({ t: 'sync', x }) as Msg));
    for (const s of sessions) co.onFrame(s, frame);
    let turns = 0;
    while (perTurn.reduce((a, b) => a + b, 0) < 500 && turns < 1000) {
      perTurn.push(0);
      await turn();
      turns++;
    }
    expect(perTurn.reduce((a, b) => a + b, 0)).toBe(500);
    // A few sessions a turn (a frame of 5 messages needs no clock reading of its own): starting every session past
    // the deadline handled all the waiting ones in one turn.
    expect(Math.max(...perTurn.slice(1))).toBeLessThan(100);
  });
});
