// Two coordinators on one Redis, as the Redis tests start them (issue 15).
import { edgeNodes, getJson, redisCoordinator, stats, type Coord } from './processes.js';
import { until } from './poll.js';

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
  // Each node names both: it joins the other when its own coordinator goes.
  await Promise.all([edgeNodes(a, token, 1, `${a.url},${b.url}`), edgeNodes(b, token, 1, `${b.url},${a.url}`)]);
  for (const c of [a, b]) {
    await until(
      async () => {
        const rows = (await getJson<CoordinatorRow[]>(c.url, '/api/coordinators', token)) ?? [];
        return rows.length === 2 && rows.every((r) => r.nodes === 1) && ((await stats(c.url, token))?.meshLinks ?? 0) === 1;
      },
      { timeoutMs: 15_000, what: `${c.url} to list both coordinators with their nodes, and to link to the other` },
    );
  }
  return [a, b];
}
