// cli/reach.ts's first contact (session 35): `tabmesh submit` against a
// `tabmesh start` whose event loop is busy (its local node, SQLite, a 50 MB
// object) got ETIMEDOUT from a 5 s /healthz. The kernel takes the connection
// while the loop is busy; the answer comes late. Here an HTTP server answers
// /healthz late on purpose (the times scaled down), and a listener that never
// answers stands for a stuck process.
import { createServer as httpServer, type Server } from 'node:http';
import { createServer as tcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { reachCoordinator } from '../../cli/reach.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function listen(s: Server | ReturnType<typeof tcpServer>): Promise<string> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** A coordinator whose /healthz answers `lateMs` after the request came in. */
async function lateCoordinator(lateMs: number): Promise<string> {
  const s = httpServer((req, res) => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/healthz' ? JSON.stringify({ ok: true }) : '{}');
    }, lateMs);
  });
  closers.push(() => {
    s.closeAllConnections();
    s.close();
  });
  return listen(s);
}

describe('reachCoordinator', () => {
  it('waits for a coordinator that took the connection but answers late, and says once that it waits', async () => {
    const base = await lateCoordinator(600);
    const said: string[] = [];
    // Before session 35 the whole check was one timeout (5 s): an answer later than it failed as ETIMEDOUT.
    await reachCoordinator(base, { connectMs: 150, slowMs: 150, answerMs: 30_000 }, (l) => said.push(l));
    expect(said).toEqual([`tabmesh: ${base} took the connection but has not answered in 0.15 s (busy?); waiting up to 30 s\n`]);
  });

  it('says nothing when the answer comes in time', async () => {
    const base = await lateCoordinator(0);
    const said: string[] = [];
    await reachCoordinator(base, { slowMs: 20_000 }, (l) => said.push(l));
    expect(said).toEqual([]);
  });

  it('a listener that never answers: fails after answerMs, saying it took the connection', async () => {
    const held: Socket[] = [];
    const s = tcpServer((sock) => held.push(sock));
    closers.push(() => {
      for (const h of held) h.destroy();
      s.close();
    });
    const base = await listen(s);
    const err = await reachCoordinator(base, { connectMs: 5000, slowMs: 100, answerMs: 300 }, () => {}).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'UNREACHABLE' });
    expect((err as Error).message).toBe(
      `${base} took the connection but did not answer /healthz in 0.3 s: the process there is stuck or very busy; try again, or look at it`,
    );
  });

  it('nothing listening: connection refused at once, as before', async () => {
    const s = tcpServer();
    const base = await listen(s);
    await new Promise<void>((r) => s.close(() => r()));
    const err = await reachCoordinator(base, { answerMs: 60_000 }, () => {}).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'UNREACHABLE' });
    expect((err as Error).message).toBe(
      `no tabmesh coordinator at ${base} (connection refused): start one with \`npm start\` (or \`tabmesh start\`), or check the URL`,
    );
  });

  it('something else answering: not a coordinator, as before', async () => {
    const s = httpServer((_req, res) => {
      res.statusCode = 404;
      res.end('no');
    });
    closers.push(() => {
      s.closeAllConnections();
      s.close();
    });
    const base = await listen(s);
    const err = await reachCoordinator(base, {}, () => {}).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'NOT_A_COORDINATOR' });
  });
});
