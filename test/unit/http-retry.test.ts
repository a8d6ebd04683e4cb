// A keep-alive connection reset under a request (issue 11): the CLI's GETs are
// sent once more on a fresh connection; a POST is not (it could run twice).
// A raw TCP server answers the first request of its first connection, then
// resets that connection when it is reused, as a server that closed an idle
// connection the client still had in its pool.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { coordinatorFetch, socketReset } from '../../cli/http.js';

interface Fake {
  url: string;
  /** Requests seen, as "connection#: METHOD". */
  seen: string[];
  server: Server;
}

/** Resets connection 1 on its second request; `always`: resets every connection's second request and every request after the first connection. */
async function fakeServer(always = false): Promise<Fake> {
  const seen: string[] = [];
  let conns = 0;
  const server = createServer((c: Socket) => {
    const id = ++conns;
    let reqs = 0;
    c.on('data', (d) => {
      reqs++;
      seen.push(`${id}: ${d.toString().split(' ')[0]}`);
      if ((id === 1 && reqs === 2) || (always && id > 2)) return void c.resetAndDestroy();
      c.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, seen, server };
}

/** Two requests that leave connection 1 idle in the pool (the second opens connection 2 while the first is being released). */
async function warm(f: Fake): Promise<void> {
  for (let i = 0; i < 2; i++) expect(await (await coordinatorFetch(f.url)).text()).toBe('ok');
}

describe('coordinatorFetch on a reused connection that is reset', () => {
  let f: Fake | undefined;
  afterEach(() => f?.server.close());

  it('sends a GET once more and returns its answer', async () => {
    f = await fakeServer();
    await warm(f);
    // The pool hands out connection 1 again: it is reset, and the GET goes again on another.
    const res = await coordinatorFetch(f.url);
    expect(await res.text()).toBe('ok');
    expect(f.seen.filter((s) => s.startsWith('1:'))).toHaveLength(2);
    // Plain fetch fails the same way the CLI once did (the error that is retried).
    const g = await fakeServer();
    try {
      for (let i = 0; i < 2; i++) await (await fetch(g.url)).text();
      const e = await fetch(g.url).then(
        () => null,
        (x: unknown) => x,
      );
      expect(socketReset(e)).toBe(true);
    } finally {
      g.server.close();
    }
  });

  it('does not send a POST again: it fails with the reset', async () => {
    f = await fakeServer();
    await warm(f);
    const e = await coordinatorFetch(f.url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(socketReset(e)).toBe(true);
    expect(f.seen.filter((s) => s.endsWith('POST'))).toHaveLength(1);
  });

  it('retries once only: a second reset is the error', async () => {
    f = await fakeServer(true);
    await warm(f);
    const e = await coordinatorFetch(f.url).then(
      () => null,
      (x: unknown) => x,
    );
    expect(socketReset(e)).toBe(true);
    expect(f.seen.filter((s) => s.endsWith('GET')).length).toBe(4);
  });
});
