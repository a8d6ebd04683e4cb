// Executors of a browser node: dedicated Web Workers driven through Comlink
// (the browser twin of edge/executors.ts). The worker script is /executor.js,
// served with a CSP that allows eval but no network and no script imports.
import * as Comlink from 'comlink';
import type { FromExecutor } from '../../shared/executor/protocol.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';
import type { ExecutorApi, ExecutorHost, ExecutorInit } from './executor-api.js';

export function webWorkerExecutors(scriptUrl: string): SpawnExecutor {
  return (index, onMessage, onExit) => {
    const worker = new Worker(scriptUrl, { name: `tabmesh-executor-${index}` });
    const api = new MessageChannel();
    const host = new MessageChannel();
    let alive = false;
    let terminated = false;
    const exposed: ExecutorHost = {
      deliver: (m: FromExecutor) => onMessage(m),
    };
    Comlink.expose(exposed, host.port1);
    const remote = Comlink.wrap<ExecutorApi>(api.port1);
    const init: ExecutorInit = { api: api.port2, host: host.port2 };
    worker.postMessage(init, [api.port2, host.port2]);
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
      post: (m) => {
        remote.deliver(m).then(
          () => (alive = true),
          () => {},
        );
      },
      terminate: () => {
        terminated = true;
        worker.terminate();
        api.port1.close();
        host.port1.close();
      },
    };
  };
}
