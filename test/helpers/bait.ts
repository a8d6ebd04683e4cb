// A local HTTP server that counts requests: a sandboxed task that reaches it
// has escaped. Tests assert it saw none.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Bait {
  url: string;
  /** Requests received so far. */
  readonly hits: number;
  close(): void;
}

export async function startBait(): Promise<Bait> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end('gotcha');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get hits() {
      return hits;
    },
    close: () => server.close(),
  };
}
