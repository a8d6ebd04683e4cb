// Executors of a browser node: dedicated Web Workers speaking the executor
// protocol over a private MessagePort (the browser twin of edge/executors.ts).
// The worker script is /executor.js, served with a CSP that allows eval but
// no network and no script imports.
import type { FromExecutor } from '../../shared/executor/protocol.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';
import type { ExecutorInit } from './executor-api.js';

export function webWorkerExecutors(scriptUrl: string): SpawnExecutor {
  return (index, onMessage, onExit) => {
    const worker = new Worker(scriptUrl, { name: `tabmesh-executor-${index}` });
    const { port1: port, port2 } = new MessageChannel();
    let alive = false;
    let terminated = false;
    port.onmessage = (ev: MessageEvent<FromExecutor>) => {
      if (ev.data.k === 'up') alive = true;
      else onMessage(ev.data);
    };
    const init: ExecutorInit = { port: port2 };
    worker.postMessage(init, [port2]);
    worker.onerror = (ev) => {
      // An uncaught error inside a task's timer does not stop a Web Worker; a
      // script that fails to load does.
      ev.preventDefault();
      if (!alive && !terminated) {
        terminated = true;
        onExit(`executor script failed to load: ${ev.message || scriptUrl}`);
      }
    };
    return {
      // Messages posted before the worker took its port wait in the port's queue.
      post: (m, transfer) => port.postMessage(m, transfer ?? []),
      terminate: () => {
        terminated = true;
        worker.terminate();
        port.close();
      },
    };
  };
}
