// bench/channel.ts's comparison row: the same bytes between a tab and this
// process over a WebSocket on loopback (TCP: the browser reads and writes
// large segments, where a data channel handles every ~1200-byte packet).
import { WebSocketServer, type WebSocket } from 'ws';
import type { Page } from 'playwright-core';

/** MiB/s of `mib` MiB sent `dir` over a WebSocket between `page` and a server in this process, best of `rounds`. */
export async function wsThroughput(page: Page, mib: number, dir: 'tab->node' | 'node->tab', rounds: number): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  const conn = new Promise<WebSocket>((r) => wss.once('connection', r));
  await page.evaluate(`new Promise((res, rej) => {
    const ws = window.__ws = new WebSocket('ws://127.0.0.1:${port}'); ws.binaryType = 'arraybuffer';
    ws.onopen = res; ws.onerror = () => rej(new Error('no WebSocket'));
    ws.onmessage = async (e) => {
      if (typeof e.data === 'string') {
        const n = JSON.parse(e.data).n; const buf = new Uint8Array(65536); let sent = 0;
        while (sent < n) {
          while (ws.bufferedAmount > 2097152) await new Promise((r) => setTimeout(r, 2));
          const k = Math.min(buf.length, n - sent); ws.send(k === buf.length ? buf : buf.subarray(0, k)); sent += k;
        }
        return;
      }
      window.__wsGot += e.data.byteLength;
      if (window.__wsGot >= window.__wsWant) ws.send('done');
    };
  })`);
  const ws = await conn;
  const n = mib * 1048576;
  let best = Infinity;
  try {
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      if (dir === 'tab->node') {
        let got = 0;
        await new Promise<void>((res) => {
          const on = (d: Buffer) => {
            got += d.byteLength;
            if (got >= n) {
              ws.off('message', on);
              res();
            }
          };
          ws.on('message', on);
          ws.send(JSON.stringify({ n }));
        });
      } else {
        await page.evaluate(`(window.__wsGot = 0, window.__wsWant = ${n})`);
        const done = new Promise<void>((res) => ws.once('message', () => res()));
        const buf = Buffer.alloc(65536);
        for (let sent = 0; sent < n; sent += buf.length) {
          while (ws.bufferedAmount > 2097152) await new Promise((q) => setTimeout(q, 2));
          ws.send(buf);
        }
        await done;
      }
      best = Math.min(best, performance.now() - t);
    }
  } finally {
    await page.evaluate('window.__ws.close()');
    ws.terminate();
    wss.close();
  }
  return (mib / best) * 1000;
}
