// The wire boundary: bad frames close only the offending connection; auth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Packr } from 'msgpackr';
import { Cluster } from '../helpers/cluster.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { RECORDS_MARK } from '../../shared/protocol/frame-records.js';
import { newJobId, putObjectId, rootTaskId } from '../../shared/ids.js';
import { until } from '../helpers/poll.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { connect } from '../../edge/index.js';

/** A raw socket to the coordinator that records what comes back. */
async function rawSocket(url: string): Promise<{ ws: WebSocket; msgs: Msg[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  const msgs: Msg[] = [];
  ws.on('message', (d: Buffer) => msgs.push(...decodeFrame(new Uint8Array(d))));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return { ws, msgs, closed };
}

describe('protocol boundary', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 1, maxFrameBytes: 1 << 20 });
    m = await cl.driver();
  });
  afterAll(() => cl.stop());

  async function stillServes(): Promise<void> {
    const f = m.remote((x: number) => x + 1);
    expect(await m.get(f.remote(41))).toBe(42);
  }

  it('a frame that is not msgpack gets an error message and closes that connection only', async () => {
    const s = await rawSocket(cl.url);
    s.ws.send(Buffer.from('not msgpack at all \xc1\xc1'));
    const c = await s.closed;
    expect(c.code).toBe(1008);
    expect(s.msgs.find((x) => x.t === 'error')).toMatchObject({ t: 'error', code: 'BAD_FRAME' });
    await stillServes();
  });

  it('a frame of valid msgpack with a malformed message is refused with the path of the fault', async () => {
    const s = await rawSocket(cl.url);
    s.ws.send(encodeFrame([{ t: 'hello', role: 'driver', version: 1, token: cl.token }]));
    s.ws.send(new Packr({ useRecords: false }).pack([{ t: 'submit', spec: { taskId: 'zz' } }]));
    await s.closed;
    const err = s.msgs.find((x) => x.t === 'error');
    expect(err).toMatchObject({ code: 'BAD_MESSAGE' });
    expect((err as { message: string }).message).toMatch(/message\[0\]\.spec/);
    await stillServes();
  });

  it('an unknown message kind and a text frame are refused', async () => {
    const a = await rawSocket(cl.url);
    a.ws.send(new Packr({ useRecords: false }).pack([{ t: 'explode' }]));
    await a.closed;
    expect(a.msgs[0]).toMatchObject({ t: 'error', code: 'BAD_MESSAGE' });
    const b = await rawSocket(cl.url);
    b.ws.send('{"t":"hello"}');
    await b.closed;
    expect(b.msgs[0]).toMatchObject({ t: 'error', code: 'BAD_FRAME' });
    await stillServes();
  });

  it('an oversized frame gets FRAME_TOO_LARGE and the connection is closed; others go on', async () => {
    const s = await rawSocket(cl.url);
    s.ws.send(new Uint8Array((1 << 20) + 10));
    const c = await s.closed;
    expect(s.msgs[0]).toMatchObject({ t: 'error', code: 'FRAME_TOO_LARGE' });
    expect(c.code).toBe(1008);
    // Far past the limit, ws itself closes with 1009 (message too big).
    const t = await rawSocket(cl.url);
    t.ws.send(new Uint8Array(3 << 20));
    expect((await t.closed).code).toBe(1009);
    await stillServes();
  });

  it('the first message must be hello, and a node may not send driver-only kinds out of role', async () => {
    const s = await rawSocket(cl.url);
    s.ws.send(encodeFrame([{ t: 'subscribe', ids: [] }]));
    await s.closed;
    expect(s.msgs[0]).toMatchObject({ t: 'error', code: 'BAD_MESSAGE' });
    const d = await rawSocket(cl.url);
    d.ws.send(
      encodeFrame([
        { t: 'hello', role: 'driver', version: 1, token: cl.token },
        { t: 'heartbeat', running: 0, queued: 0, storeBytes: 0 },
      ]),
    );
    await d.closed;
    expect(d.msgs.find((x) => x.t === 'error')).toMatchObject({ code: 'BAD_MESSAGE' });
    await stillServes();
  });

  it('a driver without the right token is refused; HTTP routes need the bearer token', async () => {
    await expect(connect({ url: cl.url, token: 'wrong' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(connect({ url: cl.url })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const noAuth = await cl.c.app.inject({ method: 'GET', url: '/api/stats' });
    expect(noAuth.statusCode).toBe(401);
    const bad = await cl.c.app.inject({ method: 'GET', url: '/api/stats', headers: { authorization: 'Bearer nope' } });
    expect(bad.statusCode).toBe(401);
    const ok = await cl.c.app.inject({ method: 'GET', url: '/api/stats', headers: { authorization: `Bearer ${cl.token}` } });
    expect(ok.statusCode).toBe(200);
    const stats = ok.json();
    for (const k of ['tasksSubmitted', 'tasksFinished', 'tasksFailed', 'objects', 'bytesRelayed', 'nodes']) expect(typeof stats[k]).toBe('number');
    expect(stats.nodes).toBe(1);
  });

  it('a driver cannot submit a task under another job, nor report results like a node', async () => {
    const s = await rawSocket(cl.url);
    s.ws.send(encodeFrame([{ t: 'hello', role: 'driver', version: 1, token: cl.token }]));
    await cl.until(() => s.msgs.some((x) => x.t === 'welcome'));
    s.ws.send(encodeFrame([{ t: 'done', taskId: '0'.repeat(32), attempt: 0, ms: 1, results: [] } as unknown as Msg]));
    await s.closed;
    expect(s.msgs.find((x) => x.t === 'error')).toMatchObject({ code: 'BAD_MESSAGE' });
  });

  it('a client that says records in its hello gets readies as records, one that does not gets maps (session 13)', async () => {
    const firstBytes = async (records: boolean) => {
      const ws = new WebSocket(cl.url.replace('http', 'ws') + '/ws');
      const frames: Uint8Array[] = [];
      ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
      await new Promise((r, j) => {
        ws.once('open', r);
        ws.once('error', j);
      });
      const hello: Msg = { t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token: cl.token };
      if (records) hello.records = true;
      ws.send(encodeFrame([hello]));
      // A small put, then a subscribe to it: the answer is a ready at once.
      const unknown = putObjectId(rootTaskId(newJobId()), 0);
      const welcome = await until(() =>
        frames
          .map((f) => decodeFrame(f))
          .flat()
          .find((x) => x.t === 'welcome'),
      );
      const own = putObjectId(rootTaskId((welcome as MsgOf<'welcome'>).jobId!), 0);
      ws.send(
        encodeFrame([
          { t: 'put', id: own, v: new Uint8Array([0xc3]), size: 1, refs: [] },
          { t: 'subscribe', ids: [own, unknown] },
        ]),
      );
      const readies = await until(() => {
        const f = frames.find((x) => decodeFrame(x).some((m) => m.t === 'ready'));
        return f && { first: f[0], msgs: decodeFrame(f).filter((m): m is MsgOf<'ready'> => m.t === 'ready') };
      });
      ws.close();
      return readies;
    };
    const withRecords = await firstBytes(true);
    expect(withRecords.first).toBe(RECORDS_MARK);
    const maps = await firstBytes(false);
    expect(maps.first).not.toBe(RECORDS_MARK);
    // The same answers either way: the put's bytes, and an unknown id lost.
    for (const r of [withRecords, maps]) {
      expect(r.msgs[0]).toMatchObject({ t: 'ready', size: 1, v: new Uint8Array([0xc3]) });
      expect(r.msgs[1]).toMatchObject({ t: 'ready', failure: { code: 'OBJECT_LOST' } });
    }
    await stillServes();
  });
});
