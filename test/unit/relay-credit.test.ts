// The relay window, the holder's side (shared/transfer/relay-credit.ts): a holder asked with a window sends chunks
// only below its credit, waits for `more` without holding up its other messages, stops when told, gives up after its
// stall bound with a clear reason, and keeps no state after; malformed windows and credits are refused at the wire.
// Then holder, relay and a slow reader together: what queues at the coordinator stays within the window.
import { describe, expect, it } from 'vitest';
import { ObjectClient } from '../../shared/api/object-client.js';
import { ServeCredits } from '../../shared/transfer/relay-credit.js';
import { messageCheck, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { Relay } from '../../coordinator/objects/relay.js';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import type { ObjectDirectory } from '../../coordinator/objects/directory.js';
import type { Session } from '../../coordinator/session.js';
import { contentHash } from '../../shared/hash.js';
import { newJobId, returnObjectId, rootTaskId } from '../../shared/ids.js';
import { until } from '../helpers/poll.js';

const KB = 1024;
const CHUNK = 256 * KB;
const ID = returnObjectId(rootTaskId(newJobId()), 0);

function holder(stallMs?: number) {
  const sent: Msg[] = [];
  const h = new ObjectClient(
    (m) => sent.push(m),
    () => 0,
    undefined,
    new ServeCredits(stallMs),
  );
  const chunks = () => sent.filter((m): m is MsgOf<'chunk'> => m.t === 'chunk');
  return { sent, h, chunks };
}

const turns = async (n = 10) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1));
};

describe('the relay window, at the holder', () => {
  it('sends only chunks starting below its credit, more as it is granted, and keeps no state after', async () => {
    const bytes = new Uint8Array(3 * 1024 * KB + 5).map((_, i) => (i * 3) & 255);
    const { h, chunks } = holder();
    const serving = h.serve(4, bytes, 2 * CHUNK);
    await turns();
    expect(chunks().map((c) => c.o)).toEqual([0, CHUNK]);
    h.onMore({ t: 'more', x: 4, upTo: 2 * CHUNK + 1 }); // one more chunk starts below it
    await turns();
    expect(chunks()).toHaveLength(3);
    h.onMore({ t: 'more', x: 4, upTo: CHUNK }); // credit never shrinks
    h.onMore({ t: 'more', x: 4, upTo: bytes.byteLength });
    await serving;
    const got = new Uint8Array(bytes.byteLength);
    for (const c of chunks()) got.set(c.d, c.o);
    expect(Buffer.compare(got, bytes)).toBe(0);
    expect(h.credits.size).toBe(0);
  });

  it('a credit for a transfer it does not serve changes nothing', () => {
    const c = new ServeCredits();
    expect(c.grant({ t: 'more', x: 99, upTo: 1 << 20 })).toBe(false);
    expect(c.size).toBe(0);
  });

  it('told to stop (the reader left), it sends nothing more and lets go', async () => {
    const { h, chunks, sent } = holder();
    const serving = h.serve(5, new Uint8Array(2 * 1024 * KB), CHUNK);
    await turns();
    expect(chunks()).toHaveLength(1);
    h.onMore({ t: 'more', x: 5, upTo: CHUNK, stop: true });
    await serving;
    expect(chunks()).toHaveLength(1);
    expect(sent.filter((m) => m.t === 'xferFail')).toEqual([]);
    expect(h.credits.size).toBe(0);
  });

  it('its connection drops: a serve waiting for credit stops at once, no timer or state left', async () => {
    const { h, chunks, sent } = holder(); // the default bound: 60 s, far past this test
    const serving = h.serve(8, new Uint8Array(1024 * KB), CHUNK);
    await turns(3);
    h.failTransfers(new Error('connection dropped'));
    await serving;
    expect(chunks()).toHaveLength(1);
    expect(sent.filter((m) => m.t === 'xferFail')).toEqual([]);
    expect(h.credits.size).toBe(0);
  });

  it('no credit within its stall bound: the transfer fails with a clear reason; its other messages flowed meanwhile', async () => {
    const { h, chunks, sent } = holder(60);
    const serving = h.serve(6, new Uint8Array(1024 * KB), CHUNK);
    await turns(3);
    void h.whenReady(ID); // a subscribe while the serve waits for credit
    expect(sent.some((m) => m.t === 'subscribe')).toBe(true);
    await serving;
    expect(chunks()).toHaveLength(1);
    const fail = sent.find((m) => m.t === 'xferFail') as MsgOf<'xferFail'>;
    expect(fail.x).toBe(6);
    expect(fail.reason).toMatch(/no credit from the coordinator for 0.06 s \(its reader does not read\)/);
    expect(h.credits.size).toBe(0);
  });

  it('a serve without a window (an older coordinator) sends at once, as before', async () => {
    const { h, chunks } = holder(60);
    await h.serve(7, new Uint8Array(1024 * KB));
    expect(chunks()).toHaveLength(4);
  });

  it('a bad window or credit is refused at the wire', () => {
    for (const w of [0, -1, 1.5, 2 ** 43, 'x']) expect(messageCheck({ t: 'serve', id: ID, x: 1, w }, 'm')).toMatch(/^m\.w: /);
    expect(messageCheck({ t: 'serve', id: ID, x: 1, w: 4 << 20 }, 'm')).toBeNull();
    for (const upTo of [-1, 0.5, 2 ** 43, undefined]) expect(messageCheck({ t: 'more', x: 1, upTo }, 'm')).toMatch(/^m\.upTo: /);
    expect(messageCheck({ t: 'more', x: 1, upTo: 5, stop: 'yes' }, 'm')).toMatch(/^m\.stop: /);
    expect(messageCheck({ t: 'more', x: 1, upTo: 5, extra: 1 }, 'm')).toMatch(/unknown field/);
  });
});

describe('holder, relay and a slow reader together', () => {
  it('what waits at the coordinator for the reader stays within the window and low water, and every byte arrives', async () => {
    const size = 12 * 1024 * KB + 77;
    const WINDOW = 1024 * KB;
    const LOW = 256 * KB;
    const bytes = new Uint8Array(size).map((_, i) => (i * 11) & 255);
    // The reader's socket at the coordinator: what was forwarded and not yet read.
    let queued = 0;
    let most = 0;
    const got = new Uint8Array(size);
    let arrived = 0;
    const reader = {
      role: 'node',
      credit: true,
      get bufferedAmount() {
        return queued;
      },
      send(m: Msg) {
        if (m.t !== 'chunk') return;
        queued += m.d.byteLength;
        most = Math.max(most, queued);
        got.set(m.d, m.o);
        arrived += m.d.byteLength;
      },
    } as unknown as Session;
    let h: ObjectClient | null = null;
    const holderSession = { role: 'node', credit: true, send: (m: Msg) => m.t === 'more' && h!.onMore(m) } as unknown as Session;
    const o = { id: ID, state: 'ready', hash: contentHash(bytes), locations: new Set([holderSession]) };
    const dir = { get: () => o, holder: () => holderSession } as unknown as ObjectDirectory;
    const relay = new Relay({ stats: { bytesRelayed: 0 } } as unknown as Gcs, dir, { window: WINDOW, lowWater: LOW, pollMs: 1 });
    let serveMsg: MsgOf<'serve'> | null = null;
    h = new ObjectClient(
      (m) => void (m.t === 'chunk' && relay.chunk(holderSession, m)),
      () => 0,
    );
    (holderSession as unknown as { send: (m: Msg) => void }).send = (m) => {
      if (m.t === 'serve') serveMsg = m;
      else if (m.t === 'more') h.onMore(m);
    };
    relay.fetch(reader, { t: 'fetch', id: ID, x: 1 });
    expect(serveMsg).not.toBeNull();
    const serving = h.serve(serveMsg!.x, bytes, serveMsg!.w);
    // The reader reads 128 KiB a millisecond: far slower than the holder sends.
    const reading = setInterval(() => (queued = Math.max(0, queued - 128 * KB)), 1);
    try {
      await serving;
      await until(() => arrived === size, { what: 'every byte at the reader' });
    } finally {
      clearInterval(reading);
    }
    expect(Buffer.compare(got, bytes)).toBe(0);
    // Granted only below the low water: at most the low water and a window wait for the reader.
    expect(most).toBeLessThanOrEqual(LOW + WINDOW);
    expect(relay.windows.waitingCount).toBe(0);
    expect(h.credits.size).toBe(0);
  });
});
