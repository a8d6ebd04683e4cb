// The other end of bench:relay's raw WebSocket baseline (session 37), a process of its own: a `ws` server on
// loopback that prints its port; for each text message {n, dir} it either counts `n` bytes sent to it ('up') and
// answers 'done', or sends `n` bytes in relay-chunk-sized messages ('down'), waiting on its socket's buffer as the
// relay's holders do.
import { WebSocketServer } from 'ws';
import { RELAY_CHUNK_BYTES } from '../shared/protocol/fields.js';

const HIGH_WATER = 8 << 20;
let src = new Uint8Array(0);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('connection', (ws) => {
  let want = 0;
  let got = 0;
  ws.on('message', (d: Buffer, binary: boolean) => {
    if (binary) {
      got += d.byteLength;
      if (got >= want) ws.send('done');
      return;
    }
    const { n, dir } = JSON.parse(String(d)) as { n: number; dir: 'up' | 'down' };
    if (!Number.isSafeInteger(n) || n <= 0) return ws.close(1008, 'bad size');
    if (dir === 'up') {
      want = n;
      got = 0;
      return;
    }
    if (src.byteLength < n) src = new Uint8Array(n).fill(9);
    void (async () => {
      for (let o = 0; o < n; o += RELAY_CHUNK_BYTES) {
        while (ws.bufferedAmount > HIGH_WATER) await new Promise((r) => setTimeout(r, 1));
        ws.send(src.subarray(o, Math.min(n, o + RELAY_CHUNK_BYTES)));
      }
    })();
  });
});
wss.on('listening', () => process.stdout.write(`${(wss.address() as { port: number }).port}\n`));
process.on('disconnect', () => process.exit(0));
