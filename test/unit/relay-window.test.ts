// The relay's credit window (coordinator/objects/relay-window.ts), the coordinator's side: a holder that said
// `credit` is asked to serve with a window and sent `more` as its reader's socket drains; a chunk past the credit, a
// reader that never reads, a reader that leaves each end the transfer on both sides. Fakes of the directory and the
// sessions: only what the relay reads of them.
import { describe, expect, it } from 'vitest';
import { Relay } from '../../coordinator/objects/relay.js';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import type { ObjectDirectory } from '../../coordinator/objects/directory.js';
import type { Session } from '../../coordinator/session.js';
import { contentHash } from '../../shared/hash.js';
import { returnObjectId, rootTaskId, newJobId } from '../../shared/ids.js';
import type { Msg, MsgOf } from '../../shared/protocol/messages.js';
import { until } from '../helpers/poll.js';

const KB = 1024;
const CHUNK = 256 * KB;
const WINDOW = 1024 * KB;
const ID = returnObjectId(rootTaskId(newJobId()), 0);

type Fake = Session & { got: Msg[]; bufferedAmount: number };

function session(credit: boolean): Fake {
  const got: Msg[] = [];
  return { role: 'node', credit, got, bufferedAmount: 0, send: (m: Msg) => void got.push(m) } as unknown as Fake;
}

/** A relay whose object `ID` of `size` bytes is held by a holder (`credit`: it said so), and a reader that fetched it. */
function setup(size: number, credit = true, stallMs = 30_000) {
  const bytes = new Uint8Array(size).map((_, i) => i & 255);
  const holder = session(credit);
  const reader = session(true);
  const o = { id: ID, state: 'ready', hash: contentHash(bytes), locations: new Set([holder]) };
  const dir = { get: () => o, holder: () => holder } as unknown as ObjectDirectory;
  const relay = new Relay({ stats: { bytesRelayed: 0 } } as unknown as Gcs, dir, { window: WINDOW, lowWater: 64 * KB, pollMs: 2, stallMs });
  const bad: string[] = [];
  relay.onBadHolder = (_h, _id, why) => void bad.push(why);
  relay.fetch(reader, { t: 'fetch', id: ID, x: 9 });
  const serve = holder.got.find((m) => m.t === 'serve') as MsgOf<'serve'>;
  const send = (at: number) => relay.chunk(holder, { t: 'chunk', x: serve.x, o: at, n: size, d: bytes.subarray(at, Math.min(size, at + CHUNK)) });
  const mores = () => holder.got.filter((m): m is MsgOf<'more'> => m.t === 'more');
  return { relay, holder, reader, serve, send, mores, bad, bytes };
}

describe('the relay window, at the coordinator', () => {
  it('a holder that said credit is asked with a window; one that did not, as before', () => {
    expect(setup(4 * WINDOW).serve.w).toBe(WINDOW);
    expect(setup(4 * WINDOW, false).serve).not.toHaveProperty('w');
  });

  it('grants a window more each time half of it is used while the reader keeps up: the holder never runs dry', () => {
    const size = 4 * WINDOW + 1000;
    const { send, mores, reader, relay } = setup(size);
    let upTo = WINDOW;
    for (let at = 0; at < size; at += CHUNK) {
      expect(at).toBeLessThan(upTo); // the holder had credit for every chunk it sent
      expect(send(at)).toBeNull();
      upTo = Math.max(upTo, ...mores().map((m) => m.upTo));
    }
    // Granted at every half window: upTo = forwarded + window, capped at the object's size.
    expect(mores().map((m) => m.upTo)).toEqual([
      2 * CHUNK + WINDOW,
      4 * CHUNK + WINDOW,
      6 * CHUNK + WINDOW,
      8 * CHUNK + WINDOW,
      10 * CHUNK + WINDOW,
      12 * CHUNK + WINDOW,
      size,
    ]);
    expect(reader.got.filter((m) => m.t === 'chunk')).toHaveLength(Math.ceil(size / CHUNK));
    expect(relay.windows.waitingCount).toBe(0);
  });

  it('a reader behind: no credit until its socket drains below the low water, then one grant from the poll', async () => {
    const { send, mores, reader, relay } = setup(4 * WINDOW);
    reader.bufferedAmount = 10 * WINDOW;
    for (let at = 0; at < WINDOW; at += CHUNK) expect(send(at)).toBeNull();
    expect(mores()).toHaveLength(0);
    expect(relay.windows.waitingCount).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(mores()).toHaveLength(0); // still behind: still waiting
    reader.bufferedAmount = 0;
    await until(() => mores().length === 1, { what: 'a grant once the reader drained' });
    expect(mores()[0]!.upTo).toBe(2 * WINDOW);
    expect(relay.windows.waitingCount).toBe(0);
  });

  it('a chunk past the credit is refused and ends the transfer on both sides', () => {
    const { send, reader, holder, relay } = setup(4 * WINDOW);
    reader.bufferedAmount = 10 * WINDOW; // no grants
    for (let at = 0; at < WINDOW; at += CHUNK) expect(send(at)).toBeNull();
    expect(send(WINDOW)).toMatch(/past its credit/);
    expect(reader.got.at(-1)).toMatchObject({ t: 'xferFail', x: 9 });
    expect(holder.got.at(-1)).toMatchObject({ t: 'more', stop: true });
    expect(relay.windows.waitingCount).toBe(0);
    expect(send(WINDOW + CHUNK)).toBeNull(); // the transfer is gone: later chunks dropped
    expect(reader.got.filter((m) => m.t === 'chunk')).toHaveLength(WINDOW / CHUNK);
  });

  it('a reader that never reads fails the transfer after the stall bound, the holder released and not blamed', async () => {
    const { send, reader, holder, relay, bad } = setup(4 * WINDOW, true, 40);
    reader.bufferedAmount = 10 * WINDOW;
    for (let at = 0; at < WINDOW; at += CHUNK) send(at);
    await until(() => reader.got.some((m) => m.t === 'xferFail'), { what: 'the stalled transfer to fail' });
    expect((reader.got.find((m) => m.t === 'xferFail') as MsgOf<'xferFail'>).reason).toMatch(/its reader did not read/);
    expect(holder.got.at(-1)).toMatchObject({ t: 'more', stop: true });
    expect(relay.windows.waitingCount).toBe(0);
    expect(bad).toEqual([]);
  });

  it('a holder that used its credit and gave up is not reported as a bad holder; one that fails with credit left is', () => {
    const a = setup(4 * WINDOW);
    a.reader.bufferedAmount = 10 * WINDOW;
    for (let at = 0; at < WINDOW; at += CHUNK) a.send(at);
    a.relay.fail(a.holder, { t: 'xferFail', x: a.serve.x, reason: 'no credit from the coordinator for 60 s' });
    expect(a.bad).toEqual([]);
    expect(a.reader.got.at(-1)).toMatchObject({ t: 'xferFail', x: 9 });
    expect(a.relay.windows.waitingCount).toBe(0);
    const b = setup(4 * WINDOW);
    b.send(0);
    b.relay.fail(b.holder, { t: 'xferFail', x: b.serve.x, reason: 'object not held here' });
    expect(b.bad).toHaveLength(1);
  });

  it('the reader leaves: the holder is told to stop at once, nothing waits', () => {
    const { send, reader, holder, relay } = setup(4 * WINDOW);
    reader.bufferedAmount = 10 * WINDOW;
    for (let at = 0; at < WINDOW; at += CHUNK) send(at);
    expect(relay.windows.waitingCount).toBe(1);
    relay.dropSession(reader);
    expect(holder.got.at(-1)).toMatchObject({ t: 'more', stop: true });
    expect(relay.windows.waitingCount).toBe(0);
    expect(send(WINDOW)).toBeNull(); // a chunk already in flight is dropped
  });

  it('a holder without credit is neither held back nor told to stop', () => {
    const { send, reader, holder, relay } = setup(4 * WINDOW, false);
    reader.bufferedAmount = 10 * WINDOW;
    for (let at = 0; at < 4 * WINDOW; at += CHUNK) expect(send(at)).toBeNull();
    expect(relay.windows.waitingCount).toBe(0);
    relay.dropSession(reader);
    expect(holder.got.filter((m) => m.t === 'more')).toEqual([]);
  });
});
