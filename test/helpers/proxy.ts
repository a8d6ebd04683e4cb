// A TCP proxy in front of a coordinator, to cut or hold back one client's
// path to it (a partition) while the coordinator itself runs on: closed, it
// refuses connections; cut() also ends the ones it carries.
import { connect, createServer, type Socket } from 'node:net';

export interface Proxy {
  url: string;
  /** Lets connections through (a new proxy starts open unless told otherwise). */
  open(): void;
  /** Refuses new connections and ends those carried: a partition. */
  cut(): void;
  close(): Promise<void>;
}

export async function tcpProxy(target: string, opts: { open?: boolean } = {}): Promise<Proxy> {
  const { hostname, port } = new URL(target);
  let open = opts.open ?? true;
  const carried = new Set<Socket>();
  const server = createServer((client) => {
    if (!open) return void client.destroy();
    const up = connect(Number(port), hostname);
    carried.add(client).add(up);
    const end = () => {
      client.destroy();
      up.destroy();
      carried.delete(client);
      carried.delete(up);
    };
    client.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('the proxy has no port');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    open: () => {
      open = true;
    },
    cut: () => {
      open = false;
      for (const s of carried) s.destroy();
      carried.clear();
    },
    close: () => {
      open = false;
      for (const s of carried) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
