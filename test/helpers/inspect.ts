// A full garbage collection in a Node process started with --inspect=127.0.0.1:0
// (its "Debugger listening on ws://..." line in `output`), over the inspector
// protocol: memory tests measure what a process holds, not its garbage.
import WebSocket from 'ws';
import { until } from './poll.js';

export async function collectGarbage(output: string[]): Promise<void> {
  const url = await until(() => /Debugger listening on (ws:\/\/\S+)/.exec(output.join(''))?.[1], { what: 'the inspector address' });
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(String(d)) as { id?: number; error?: { message: string } };
        if (m.id !== 1) return;
        if (m.error) reject(new Error(m.error.message));
        else resolve();
      });
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    });
  } finally {
    ws.close();
  }
}
