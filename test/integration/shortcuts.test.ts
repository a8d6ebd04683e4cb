// Result shortcuts (issue 14, session 14; shared/protocol/shortcut.ts): a node
// sends a plain task's small result straight to its driver, beside a `done`
// that tells the coordinator not to send the driver a `ready` for it. Counted,
// not timed, against a real coordinator, real edge-node processes and real links.
// Drivers here take no direct submission (session 15, direct.test.ts): their tasks go through the coordinator.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { coreOf, sequential } from '../helpers/sequential.js';
import { connect } from '../../edge/index.js';
import { encodeValue } from '../../shared/codec.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { taskOfObject, type JobId, type NodeId } from '../../shared/ids.js';
import { traffic } from '../../coordinator/traffic.js';
import { subscribersOf } from '../../coordinator/objects/subscriptions.js';

/** A node of one CPU speaking the protocol by hand over its own socket: every message it gets lands in `msgs`. */
/** Whether some session waits on object `id` at the coordinator of `cl`. */
function waitedOn(cl: Cluster, id: string): boolean {
  const o = cl.c.coordinator.gcs.objects.get(id as never);
  return o !== undefined && subscribersOf(o).length > 0;
}

async function rawNode(url: string, kind: 'edge' | 'browser', shortcut: boolean): Promise<{ ws: WebSocket; msgs: Msg[] }> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  const msgs: Msg[] = [];
  ws.on('message', (d: Buffer) => msgs.push(...decodeFrame(new Uint8Array(d))));
  await new Promise((r) => ws.once('open', r));
  const hello: MsgOf<'hello'> = {
    t: 'hello',
    role: 'node',
    version: PROTOCOL_VERSION,
    node: { kind, name: 'raw', resources: { cpu: 1 }, storeBytes: 1 << 20 },
  };
  if (shortcut) hello.shortcut = true;
  ws.send(encodeFrame([hello]));
  return { ws, msgs };
}

describe('result shortcuts', () => {
  let cl: Cluster | undefined;
  afterEach(async () => {
    await cl?.stop();
    cl = undefined;
  });

  it('a driver waiting on one task at a time takes its results from the node, and the coordinator sends it no ready for them', async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    const m = await cl.driver({ direct: false });
    await sequential(m, 5); // the node opens its link to the driver on its first tagged result
    const node = [...cl.c.coordinator.gcs.nodes.keys()][0];
    await until(() => coreOf(m).links?.isOpen(node) === true, { timeoutMs: 10_000, what: 'the link from the node' });
    const before = { ...coreOf(m).shortcuts.counts };
    const tags = traffic.shortcutTags;
    const readies = traffic.outOf('ready');
    const frames = traffic.framesIn;
    const took = traffic.inOf('took');
    await sequential(m, 100, 5);
    const c = coreOf(m).shortcuts.counts;
    expect(traffic.shortcutTags - tags).toBe(100);
    expect(c.taken - before.taken).toBe(100);
    expect(c.refused).toBe(0);
    expect(traffic.outOf('ready') - readies).toBe(0);
    // The driver says it took each one on the frame that submits the next task: no frame of its own (session 15).
    expect(traffic.inOf('took') - took).toBeGreaterThanOrEqual(99);
    expect(traffic.framesIn - frames).toBeLessThanOrEqual(102);
    // The GCS recorded every one as usual, and freed every one.
    await until(() => [...cl!.c.coordinator.gcs.objects.values()].every((o) => o.job !== coreOf(m).jobId), { what: 'the freed results to go' });
  });

  it('a batch (more than 4 tasks in flight), a verified task and a driver without peer links get no tags and no shortcuts', async () => {
    cl = await Cluster.start({ nodes: 2, cpus: 2 });
    const m = await cl.driver({ direct: false });
    await sequential(m, 3);
    const taken = coreOf(m).shortcuts.counts.taken;
    let tags = traffic.shortcutTags;
    // A batch: tags only once at most 4 are in flight (the tail); the rest go as before.
    const sq = m.remote((x: number) => x * x);
    const refs = Array.from({ length: 200 }, (_, i) => sq.remote(i));
    expect(await m.get(refs)).toEqual(Array.from({ length: 200 }, (_, i) => i * i));
    expect(traffic.shortcutTags - tags).toBeLessThanOrEqual(4);
    tags = traffic.shortcutTags;
    // Verified: its result counts once its replicas agree, at the coordinator.
    const checked = m.remote((x: number) => x + 1, { verify: { replicas: 2 } });
    for (let i = 0; i < 10; i++) expect(await m.get(checked.remote(i))).toBe(i + 1);
    expect(traffic.shortcutTags - tags).toBe(0);
    expect(coreOf(m).shortcuts.counts.taken - taken).toBeLessThanOrEqual(4);
    // A driver without peer links does not say `shortcut`: its tasks' results come in readies.
    const plain = await connect({ url: cl.url, token: cl.token, peers: false });
    try {
      const readies = traffic.outOf('ready');
      await sequential(plain, 20);
      expect(traffic.shortcutTags - tags).toBe(0);
      expect(coreOf(plain).shortcuts.counts).toEqual({ taken: 0, late: 0, refused: 0 });
      expect(traffic.outOf('ready') - readies).toBeGreaterThanOrEqual(20);
    } finally {
      await plain.close();
    }
  });

  it('a node that did not say shortcut in its hello (a tab, an older build) gets assigns without a tag; one that did gets them with one', async () => {
    cl = await Cluster.start({ nodes: 0 });
    const m = await cl.driver({ direct: false });
    for (const says of [false, true]) {
      const { ws, msgs } = await rawNode(cl.url, 'browser', says);
      const inc = m.remote((x: number) => x + 1);
      const ref = inc.remote(says ? 2 : 1);
      const assign = await until(() => msgs.find((x): x is MsgOf<'assign'> => x.t === 'assign'), { what: 'an assign' });
      expect(assign.sc !== undefined).toBe(says);
      // Its result goes the usual way: a `done` (without `sc`), then the coordinator's `ready` to the driver.
      ws.send(
        encodeFrame([
          { t: 'done', taskId: assign.spec.taskId, attempt: assign.spec.attempt, ms: 1, results: [{ v: encodeValue(says ? 3 : 2).bytes, refs: [] }] },
        ]),
      );
      expect(await m.get(ref)).toBe(says ? 3 : 2);
      ws.close();
      await until(() => cl!.c.coordinator.gcs.nodes.size === 0, { what: 'the raw node to leave' });
    }
    expect(coreOf(m).shortcuts.counts.taken).toBe(0);
  });

  it('a node that says its result went straight to the driver and sent nothing: the driver still gets it, from the coordinator, once', async () => {
    cl = await Cluster.start({ nodes: 0 });
    const m = await cl.driver({ direct: false });
    const { ws, msgs } = await rawNode(cl.url, 'edge', true);
    try {
      const inc = m.remote((x: number) => x + 1);
      const owed = traffic.shortcutReadies;
      for (let i = 0; i < 3; i++) {
        const ref = inc.remote(i);
        const assign = await until(() => msgs.find((x): x is MsgOf<'assign'> => x.t === 'assign' && x.spec.taskId === taskOfObject(ref.id)), {
          what: 'an assign',
        });
        expect(assign.sc).toBeDefined();
        const got = m.get(ref);
        await until(() => waitedOn(cl!, ref.id), { what: "the driver's subscribe" });
        // `sc: true` and no shortcut on any link (this node has none): before session 15 the driver's get waited forever.
        ws.send(
          encodeFrame([
            { t: 'done', taskId: assign.spec.taskId, attempt: assign.spec.attempt, ms: 1, results: [{ v: encodeValue(i + 1).bytes, refs: [] }], sc: true },
          ]),
        );
        expect(await got).toBe(i + 1);
        m.free(ref);
      }
      expect(coreOf(m).shortcuts.counts.taken).toBe(0);
      expect(traffic.shortcutReadies - owed).toBe(3);
    } finally {
      ws.close();
    }
  });

  it("a driver's goodbye before the done of a tagged task: its job ends after that done, the task recorded finished, not cancelled", async () => {
    // A shortcut reaches the driver on one socket and the node's done the coordinator on another: a driver that got
    // its value and closed at once could end its job before the done (the job's end then cancelled the task; seen
    // as the dashboard's timeline showing a task of a finished job that was not finished). Played here by a node that
    // holds its done until the driver has said goodbye.
    cl = await Cluster.start({ nodes: 0 });
    const m = await cl.driver({ direct: false });
    const { ws, msgs } = await rawNode(cl.url, 'edge', true);
    try {
      const inc = m.remote((x: number) => x + 1);
      const ref = inc.remote(41);
      const assign = await until(() => msgs.find((x): x is MsgOf<'assign'> => x.t === 'assign' && x.spec.taskId === taskOfObject(ref.id)), {
        what: 'an assign',
      });
      expect(assign.sc).toBeDefined();
      const job = m.jobId as JobId;
      await m.close();
      await new Promise((r) => setTimeout(r, 200));
      expect(cl.c.coordinator.gcs.jobs.get(job)?.state).toBe('running'); // waiting for the tagged task's done
      ws.send(
        encodeFrame([
          { t: 'done', taskId: assign.spec.taskId, attempt: assign.spec.attempt, ms: 1, results: [{ v: encodeValue(42).bytes, refs: [] }], sc: true },
        ]),
      );
      await until(() => cl!.c.coordinator.gcs.jobs.get(job)?.state !== 'running', { what: 'the job to end' });
      const tasks = (await cl.c.app.inject({ method: 'GET', url: `/api/tasks?job=${job}`, headers: { authorization: `Bearer ${cl.token}` } })).json() as {
        state: string;
      }[];
      expect(tasks.map((t) => t.state)).toEqual(['finished']);
      expect(msgs.filter((x) => x.t === 'cancelTask')).toHaveLength(0);
    } finally {
      ws.close();
    }
  });

  it('a node whose link to the driver is WebRTC (no fast link) sends no shortcut: its results come in readies', async () => {
    cl = await Cluster.start({ nodes: 0 });
    const m = await cl.driver({ direct: false });
    await cl.addNode({ cpus: 1, env: { TABMESH_FAST_LINKS: '0' } });
    const node = [...cl.c.coordinator.gcs.nodes.keys()][0];
    await sequential(m, 3);
    await until(() => coreOf(m).links?.isOpen(node) === true, { timeoutMs: 15_000, what: 'the WebRTC link from the node' });
    expect(coreOf(m).links?.links.get(node)?.raw.transport).toBe('webrtc');
    const tags = traffic.shortcutTags;
    const readies = traffic.outOf('ready');
    await sequential(m, 20, 3);
    expect(traffic.shortcutTags - tags).toBe(20);
    expect(coreOf(m).shortcuts.counts.taken).toBe(0);
    expect(traffic.outOf('ready') - readies).toBe(20);
  });

  it('a node killed between its shortcut and its done: the driver keeps the value, the coordinator runs the task again elsewhere', async () => {
    cl = await Cluster.start({ nodes: 0 });
    const m = await cl.driver({ direct: false });
    const dying = await cl.addNode({ cpus: 1, env: { TABMESH_TEST_DIE_AFTER_SHORTCUT: '1' } });
    const node = [...cl.c.coordinator.gcs.nodes.keys()][0] as NodeId;
    const twice = m.remote((x: number) => x * 2);
    // Its first result goes the usual way while its link to the driver opens.
    expect(await m.get(twice.remote(0))).toBe(0);
    await until(() => coreOf(m).links?.isOpen(node) === true, { timeoutMs: 10_000, what: 'the link from the node' });
    const ref = twice.remote(21);
    expect(await m.get(ref)).toBe(42);
    expect(coreOf(m).shortcuts.counts.taken).toBe(1);
    await until(() => dying.proc.exitCode !== null || dying.proc.signalCode !== null, { what: 'the node to die' });
    // Its done never came: the task is queued again and runs on the next node.
    const t = cl.c.coordinator.gcs.tasks.get(taskOfObject(ref.id))!;
    expect(t.state).not.toBe('finished');
    await cl.addNode({ cpus: 1 });
    await until(() => t.state === 'finished', { timeoutMs: 20_000, what: 'the task to run again' });
    expect(t.spec.attempt).toBe(1);
    expect(await m.get(ref)).toBe(42);
    await sequential(m, 5, 100);
  });
});
