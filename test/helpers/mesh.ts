// Two coordinators on one Redis, as the Redis tests start them (issue 15).
import type { ChildProcess } from 'node:child_process';
import { edgeNodes, getJson, redisCoordinator, stats, type Coord } from './processes.js';
import { until } from './poll.js';
import { startCoordinator, type RunningCoordinator, type ServerOptions } from '../../coordinator/server.js';
import { startEdgeNode, type EdgeNode } from '../../edge/node.js';

export interface CoordinatorRow {
  id: string;
  url: string;
  nodes: number;
  jobs: number;
  self: boolean;
}

/** Two coordinators on one Redis (one prefix), one edge node each, each listing the other. */
export async function twoCoordinators(redisUrl: string, prefix: string, token: string): Promise<[Coord, Coord]> {
  const [a, b] = await Promise.all([redisCoordinator(redisUrl, prefix, token), redisCoordinator(redisUrl, prefix, token)]);
  await nodeEach(a, b, token);
  return [a, b];
}

/**
 * An edge node of 2 CPUs on each of `a` and `b` (coordinators of one mesh with no node yet), each naming both: it
 * joins the other when its own coordinator goes. Resolves once each lists both coordinators with their node and
 * links to the other. The node processes, for a file that ends them before its next case.
 */
export async function nodeEach(a: Coord, b: Coord, token: string): Promise<{ proc: ChildProcess }[]> {
  const started = await Promise.all([edgeNodes(a, token, 1, `${a.url},${b.url}`), edgeNodes(b, token, 1, `${b.url},${a.url}`)]);
  for (const c of [a, b]) {
    await until(
      async () => {
        const rows = (await getJson<CoordinatorRow[]>(c.url, '/api/coordinators', token)) ?? [];
        return rows.length === 2 && rows.every((r) => r.nodes === 1) && ((await stats(c.url, token))?.meshLinks ?? 0) === 1;
      },
      { timeoutMs: 15_000, what: `${c.url} to list both coordinators with their nodes, and to link to the other` },
    );
  }
  return started.flat();
}

/**
 * Two in-process coordinators on one Redis (`prefix`), an edge node of 2 CPUs on each, linked to each other; each
 * goes into `keep` (the test file closes them). `more`: options both coordinators start with.
 */
export async function linkedInProcess(
  redisUrl: string,
  prefix: string,
  keep: (RunningCoordinator | EdgeNode)[],
  more: Partial<ServerOptions> = {},
): Promise<{ a: RunningCoordinator; b: RunningCoordinator; token: string }> {
  const token = `${prefix}-` + Math.random().toString(36).slice(2);
  const start = async () => {
    const c = await startCoordinator({ redis: { url: redisUrl, prefix }, port: 0, token, httpLimits: false, ...more });
    keep.push(c);
    return c;
  };
  const a = await start();
  const b = await start();
  for (const c of [a, b]) keep.push(await startEdgeNode({ coordinator: c.url, cpus: 2, reconnect: false, joinToken: more.joinToken }));
  await until(() => a.coordinator.membership.links === 1 && b.coordinator.membership.links === 1, { timeoutMs: 15_000, what: 'both linked' });
  return { a, b, token };
}

/** Closes what a test file started in-process (`keep`, emptied), the last started first: nodes leave, coordinators close. */
export async function closeInProcess(keep: (RunningCoordinator | EdgeNode)[]): Promise<void> {
  for (const x of keep.splice(0).reverse()) await ('leave' in x ? x.leave() : x.close()).catch(() => {});
}

/**
 * Until each of `cs` (coordinator processes of one mesh, shared by a file's cases) is idle: no task on record (an
 * earlier case's drivers closed, its held tasks cancelled), `nodes` own nodes and one link to the other. Not "no job
 * running": a coordinator keeps the other's job it ran tasks for a while after that job's driver closed.
 * A case on a shared pair starts here, so that it does not depend on what an earlier case left.
 */
export async function untilIdle(cs: Coord[], token: string, nodes = 1): Promise<void> {
  for (const c of cs) {
    let last: Record<string, number> | undefined;
    await until(
      async () => {
        const s = (last = await stats(c.url, token));
        return s !== undefined && s.tasks === 0 && s.nodes === nodes && s.meshLinks === 1;
      },
      { timeoutMs: 30_000, what: () => `${c.url} idle: tasks ${last?.tasks} nodes ${last?.nodes} links ${last?.meshLinks}` },
    );
  }
}
