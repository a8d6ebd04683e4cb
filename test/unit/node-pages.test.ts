// /api/nodes paged by cursor from the node index (issue 14): a page is a
// binary search plus the nodes it returns, never a walk from the first node;
// nodes that leave or join between pages neither repeat nor shift the rest.
// White-box: a real coordinator app through fastify.inject(), hand-made node records.
import { afterEach, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { nodeRecord } from '../helpers/node-record.js';

const TOKEN = 'node-pages-token';
let running: RunningCoordinator | null = null;
afterEach(async () => {
  await running?.close();
  running = null;
});

function addNode(r: RunningCoordinator, name: string, kind: 'edge' | 'browser'): NodeRecord {
  const c = r.coordinator;
  const n = nodeRecord(name, { kind });
  c.gcs.nodeTable.set(n.id, n);
  c.scheduler.addNode(n);
  return n;
}

async function get(r: RunningCoordinator, url: string): Promise<{ names: string[]; total: number; next: string | undefined }> {
  const res = await r.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.statusCode, res.body).toBe(200);
  const next = res.headers['x-next-cursor'];
  return {
    names: (res.json() as { name: string }[]).map((n) => n.name),
    total: Number(res.headers['x-total-count']),
    next: next === undefined ? undefined : String(next),
  };
}

describe('/api/nodes by cursor', () => {
  it('pages through every node once, in join order, with the total and a filter by kind', async () => {
    const r = (running = await startCoordinator({ memory: true, port: 0, token: TOKEN }));
    for (let i = 0; i < 250; i++) addNode(r, `n${i}`, i % 5 === 0 ? 'browser' : 'edge');
    const seen: string[] = [];
    let cursor: string | undefined = '0';
    let pages = 0;
    while (cursor !== undefined) {
      const p = await get(r, `/api/nodes?after=${cursor}&limit=40`);
      expect(p.total).toBe(250);
      seen.push(...p.names);
      cursor = p.next;
      pages++;
    }
    expect(pages).toBe(7);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => `n${i}`));
    const browsers = await get(r, '/api/nodes?after=0&limit=1000&kind=browser');
    expect(browsers.total).toBe(50);
    expect(browsers.names).toEqual(Array.from({ length: 50 }, (_, i) => `n${i * 5}`));
    expect(browsers.next).toBeUndefined();
  });

  it('nodes leaving and joining between pages: the next page goes on after the cursor, none repeated', async () => {
    const r = (running = await startCoordinator({ memory: true, port: 0, token: TOKEN }));
    const nodes = Array.from({ length: 100 }, (_, i) => addNode(r, `n${i}`, 'edge'));
    const first = await get(r, '/api/nodes?after=0&limit=30');
    expect(first.names.at(-1)).toBe('n29');
    // The last node of the page and most of the others leave (the index compacts), a newcomer joins.
    for (const n of nodes.slice(20, 90)) {
      r.coordinator.gcs.nodeTable.delete(n.id);
      r.coordinator.scheduler.removeNode(n);
    }
    addNode(r, 'late', 'edge');
    const second = await get(r, `/api/nodes?after=${first.next}&limit=30`);
    expect(second.names).toEqual([...Array.from({ length: 10 }, (_, i) => `n${90 + i}`), 'late']);
    expect(second.total).toBe(31);
    expect(second.next).toBeUndefined();
  });

  it('a cursor that is not digits is refused', async () => {
    const r = (running = await startCoordinator({ memory: true, port: 0, token: TOKEN }));
    const res = await r.app.inject({ method: 'GET', url: '/api/nodes?after=-1', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(400);
  });
});
