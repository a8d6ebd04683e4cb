// The executor side of bench/executor-rpc.ts: a task that asks its node for
// one value (a mesh.get) and ends, over a plain port protocol or over Comlink.
import { workerData, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';

interface Task {
  taskId: string;
  args: Uint8Array[];
}
interface Host {
  call(taskId: string, op: string): Promise<Uint8Array>;
  done(results: { taskId: string; bytes: Uint8Array }[]): void;
}

const { mode, api, host } = workerData as { mode: 'plain' | 'comlink'; api: MessagePort; host: MessagePort };

function result(t: Task, got: Uint8Array): { taskId: string; bytes: Uint8Array } {
  return { taskId: t.taskId, bytes: new Uint8Array(got.byteLength + t.args.length) };
}

if (mode === 'plain') {
  // Call ids and replies by hand, one message each way.
  const pending = new Map<number, (v: Uint8Array) => void>();
  let next = 1;
  api.on('message', (m: { k: 'run'; tasks: Task[] } | { k: 'reply'; id: number; value: Uint8Array }) => {
    if (m.k === 'reply') {
      pending.get(m.id)?.(m.value);
      pending.delete(m.id);
      return;
    }
    for (const t of m.tasks) {
      const id = next++;
      pending.set(id, (v) => {
        const r = result(t, v);
        api.postMessage({ k: 'done', results: [r] }, [r.bytes.buffer as ArrayBuffer]);
      });
      api.postMessage({ k: 'call', id, taskId: t.taskId, op: 'get' });
    }
  });
} else {
  // Comlink as Comlink: the executor API exposed, the host's called through a proxy.
  const remote = Comlink.wrap<Host>(nodeEndpoint(host));
  Comlink.expose(
    {
      run(tasks: Task[]): void {
        for (const t of tasks)
          void remote.call(t.taskId, 'get').then((v) => {
            const r = result(t, v);
            void remote.done(Comlink.transfer([r], [r.bytes.buffer as ArrayBuffer]));
          });
      },
    },
    nodeEndpoint(api),
  );
}
