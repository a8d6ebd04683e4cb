// One view of the whole mesh (issue 15): two coordinators on one Redis, one
// node on A and two on B, a driver's job on each. Whichever coordinator is
// asked, /api/nodes and /api/jobs list every coordinator's rows with their
// `coordinator`, /api/stats counts the whole mesh, and both dashboards' live
// documents give the same mesh totals.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { useRedis } from '../helpers/redis.js';
import { edgeNodes, getJson, stats, type Coord } from '../helpers/processes.js';
import { until } from '../helpers/poll.js';
import type { CoordinatorRow } from '../helpers/mesh.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { DocTotals } from '../../shared/dashboard.js';
import { Replica } from '../../coordinator/dashboard/replica.js';

const running: RunningCoordinator[] = [];
const meshes: Mesh[] = [];
const redis = useRedis(async () => {
  for (const m of meshes.splice(0)) await m.close().catch(() => {});
  for (const c of running.splice(0)) await c.close().catch(() => {});
});

interface Row {
  id: string;
  coordinator: string;
  kind?: string;
  status?: string;
  job?: string;
  className?: string;
}

class Counter {
  n = 0;
  inc(): number {
    return ++this.n;
  }
}

async function rows(url: string, path: string, token: string): Promise<{ rows: Row[]; total: number; missing: string | null }> {
  const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status).toBe(200);
  return { rows: (await r.json()) as Row[], total: Number(r.headers.get('x-total-count')), missing: r.headers.get('x-mesh-missing') };
}

describe('one view of the whole mesh', () => {
  it("two coordinators, nodes split 1 + 2, a job on each: each one's /api/nodes, /api/jobs and /api/stats show all, and the dashboards' totals agree", async () => {
    const token = 'view-' + Math.random().toString(36).slice(2);
    const start = () => startCoordinator({ redis: { url: redis.server.url, prefix: 'view' }, port: 0, token, httpLimits: false });
    const [a, b] = await Promise.all([start(), start()]);
    running.push(a, b);
    const ids = new Map([
      [a.url, a.coordinator.meshId!],
      [b.url, b.coordinator.meshId!],
    ]);
    await edgeNodes({ url: a.url } as Coord, token, 1);
    await edgeNodes({ url: b.url } as Coord, token, 2);
    for (const c of [a, b]) {
      await until(
        async () => {
          const listed = (await getJson<CoordinatorRow[]>(c.url, '/api/coordinators', token)) ?? [];
          return (
            listed
              .map((r) => r.nodes)
              .sort()
              .join() === '1,2' && ((await stats(c.url, token))?.meshLinks ?? 0) === 1
          );
        },
        { timeoutMs: 20_000, what: `${c.url} to list both coordinators with their nodes` },
      );
    }
    // A driver session on each: its job is owned by the coordinator it connected to.
    const jobs = new Map<string, string>();
    for (const c of [a, b]) {
      const m = await connect({ url: c.url, token });
      meshes.push(m);
      expect(await m.get(m.remote((x: number) => x + 1).remote(1))).toBe(2);
      jobs.set(m.jobId, ids.get(c.url)!);
    }
    // An actor of A's job, on A's nodes.
    const counter = meshes[0].remote(Counter).remote();
    for (let i = 1; i <= 2; i++) expect(await meshes[0].get(counter.inc.remote())).toBe(i);
    const [jobA, jobB] = [meshes[0].jobId, meshes[1].jobId];

    // Tasks, objects and actors: each coordinator's own (a task run for another coordinator is listed by its owner only).
    for (const c of [a, b]) {
      const tasks = await rows(c.url, '/api/tasks?limit=1000', token);
      expect(tasks.missing).toBeNull();
      expect(new Set(tasks.rows.map((t) => t.id)).size).toBe(tasks.rows.length);
      expect(tasks.total).toBe(tasks.rows.length);
      const byJob = (job: string) => tasks.rows.filter((t) => t.job === job);
      expect(byJob(jobB).map((t) => t.coordinator)).toEqual([ids.get(b.url)]);
      // The lambda, the actor's creation and its two calls.
      expect(byJob(jobA).length).toBeGreaterThanOrEqual(4);
      expect(byJob(jobA).every((t) => t.coordinator === ids.get(a.url))).toBe(true);
      const ofB = await rows(c.url, `/api/tasks?job=${jobB}`, token);
      expect(ofB.rows.map((t) => [t.job, t.coordinator])).toEqual([[jobB, ids.get(b.url)]]);
      const objects = await rows(c.url, `/api/objects?job=${jobB}`, token);
      expect(objects.rows.length).toBeGreaterThanOrEqual(1);
      expect(objects.rows.every((o) => o.coordinator === ids.get(b.url) && o.job === jobB)).toBe(true);
      const actors = await rows(c.url, '/api/actors', token);
      expect(actors.rows.map((x) => [x.className, x.job, x.coordinator])).toEqual([['Counter', jobA, ids.get(a.url)]]);
      expect((await rows(c.url, '/api/actors?state=dead', token)).total).toBe(0);
    }

    for (const c of [a, b]) {
      const nodes = await rows(c.url, '/api/nodes', token);
      expect(nodes.missing).toBeNull();
      expect(nodes.total).toBe(3);
      expect(nodes.rows).toHaveLength(3);
      expect(new Set(nodes.rows.map((n) => n.id)).size).toBe(3);
      // This coordinator's rows first; links between coordinators are not nodes.
      expect(nodes.rows[0].coordinator).toBe(ids.get(c.url));
      expect(nodes.rows.filter((n) => n.coordinator === ids.get(a.url))).toHaveLength(1);
      expect(nodes.rows.filter((n) => n.coordinator === ids.get(b.url))).toHaveLength(2);
      expect(nodes.rows.every((n) => n.kind === 'edge')).toBe(true);
      // Paged across coordinators.
      const second = await rows(c.url, '/api/nodes?offset=1&limit=1', token);
      expect(second.total).toBe(3);
      expect(second.rows.map((n) => n.id)).toEqual([nodes.rows[1].id]);
      expect((await rows(c.url, '/api/nodes?kind=browser', token)).total).toBe(0);

      const listed = await rows(c.url, '/api/jobs', token);
      expect(listed.total).toBe(2);
      expect(new Map(listed.rows.map((j) => [j.id, j.coordinator]))).toEqual(jobs);
      expect(listed.rows.every((j) => j.status === 'running')).toBe(true);

      // Counts come from the registry records: the other's new job shows within a beat or two.
      await until(async () => (await stats(c.url, token))?.meshJobs === 2, { timeoutMs: 10_000, what: 'the mesh job count' });
      const st = (await stats(c.url, token))!;
      expect([st.coordinators, st.meshNodes, st.meshCpus, st.meshJobs]).toEqual([2, 3, 6, 2]);
      expect(st.nodes).toBe(c === a ? 1 : 2);
    }

    // Both dashboards' documents: the same mesh totals.
    const totals = (c: RunningCoordinator) => c.observability.doc.meta.get('totals') as DocTotals;
    await until(() => [a, b].every((c) => totals(c).meshNodes === 3 && totals(c).meshJobs === 2), {
      timeoutMs: 10_000,
      what: 'both documents to total the mesh',
    });
    for (const k of ['coordinators', 'meshNodes', 'meshCpus', 'meshJobs'] as const) expect(totals(a)[k]).toBe(totals(b)[k]);
    expect((a.observability.doc.meta.get('coordinators') as { self: boolean; nodes: number }[]).map((r) => [r.self, r.nodes])).toEqual([
      [true, 1],
      [false, 2],
    ]);

    // No dashboard is connected: nobody reads the other coordinator's rows, and none were asked (the totals above came all the same).
    for (const c of [a, b]) {
      expect(c.observability.remote.rounds).toBe(0);
      expect(c.observability.doc.doc.share.has('remoteNodes')).toBe(false);
    }
    // A dashboard on each: the other coordinator's rows, sampled apart into remoteNodes / remoteJobs, reach it.
    const dashboards = new Map<RunningCoordinator, Replica>();
    for (const c of [a, b]) {
      const r = new Replica(c.url, token);
      await r.connect();
      dashboards.set(c, r);
    }
    const remote = (c: RunningCoordinator, map: 'remoteNodes' | 'remoteJobs') => [
      ...dashboards.get(c)!.doc.getMap<{ coordinator: string; name: string; cpus?: number; status?: string }>(map).entries(),
    ];
    try {
      await until(() => remote(a, 'remoteNodes').length === 2 && remote(b, 'remoteNodes').length === 1 && remote(a, 'remoteJobs').length === 1, {
        timeoutMs: 10_000,
        what: 'the remote rows in both dashboards',
      });
      for (const [c, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const otherId = ids.get(other.url)!;
        expect(remote(c, 'remoteNodes').every(([, n]) => n.coordinator === otherId && n.cpus! > 0)).toBe(true);
        const ownNodes = new Set(c.coordinator.gcs.nodes.keys());
        expect(remote(c, 'remoteNodes').some(([id]) => ownNodes.has(id as never))).toBe(false);
        const otherJob = [...jobs].find(([, owner]) => owner === otherId)![0];
        expect(remote(c, 'remoteJobs').map(([id, j]) => [id, j.coordinator, j.status])).toEqual([[otherJob, otherId, 'running']]);
      }
    } finally {
      for (const r of dashboards.values()) await r.close();
    }
    // The dashboards gone, the rounds stop.
    await new Promise((r) => setTimeout(r, 500));
    const after = a.observability.remote.rounds;
    await new Promise((r) => setTimeout(r, 2500));
    expect(a.observability.remote.rounds).toBe(after);
  }, 120_000);

  it('a coordinator that sends bad questions or answers is ignored, and one that stops answering costs a reader the bounded wait, named in X-Mesh-Missing', async () => {
    const token = 'bad-' + Math.random().toString(36).slice(2);
    const a = await startCoordinator({ redis: { url: redis.server.url, prefix: 'bad' }, port: 0, token, httpLimits: false });
    running.push(a);
    await edgeNodes({ url: a.url } as Coord, token, 1);
    const r = new Redis(redis.server.url);
    try {
      const fake = 'f'.repeat(16);
      const channel = `bad:mesh:${a.coordinator.meshId}`;
      // Garbage questions and answers on A's channel: dropped, A still answers.
      let seq = 0;
      for (const [kind, body] of [
        [0x51, 'not json'],
        [0x51, JSON.stringify({ x: 1, q: { what: 'secrets', take: 5 } })],
        [0x52, JSON.stringify({ x: 1, page: { total: -1, rows: 'x' } })],
        [0x52, JSON.stringify({ x: 1, page: { total: 1, rows: [{ id: 'forged' }] } })],
      ] as const) {
        // Numbered as the bus numbers a peer's messages (delivery.ts: epoch 1, seq 1..4), so that they reach the view.
        const head = Buffer.alloc(16);
        head.writeUInt32BE(1, 0);
        head.writeUInt32BE(++seq, 4);
        await r.publish(channel, Buffer.concat([Buffer.from([kind]), Buffer.from(fake, 'latin1'), head, Buffer.from(body)]));
      }
      // A record for a coordinator that beats but never answers (no such process on the bus).
      const key = 'bad:{mesh}:coordinators';
      const beat = async (n: number) =>
        r.hset(
          key,
          fake,
          JSON.stringify({ id: fake, url: 'http://127.0.0.1:9', nodes: 4, cpus: 8, jobs: 0, load: 0, startedAt: Date.now(), at: Date.now(), beat: n }),
        );
      let n = 0;
      await beat(++n);
      const timer = setInterval(() => void beat(++n), 300);
      try {
        await until(async () => ((await getJson<CoordinatorRow[]>(a.url, '/api/coordinators', token)) ?? []).length === 2, {
          timeoutMs: 10_000,
          what: 'A to see the silent coordinator',
        });
        // It answers without the silent one, naming it missing (waiting for it, the request would never end): no wall-clock bound.
        const nodes = await rows(a.url, '/api/nodes', token);
        expect(nodes.missing).toBe(fake);
        expect(nodes.rows.map((x) => x.coordinator)).toEqual([a.coordinator.meshId]);
        expect((await stats(a.url, token))!.meshNodes).toBe(5);
      } finally {
        clearInterval(timer);
      }
    } finally {
      r.disconnect();
    }
  }, 60_000);
});
