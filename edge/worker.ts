// An edge executor: a worker_threads Worker running the shared executor core.
import { parentPort } from 'node:worker_threads';
import { ExecutorCore } from '../shared/executor/core.js';
import type { ToExecutor } from '../shared/executor/protocol.js';
import { installNodeHasher } from './node-hash.js';

if (!parentPort) throw new Error('edge/worker.js runs as a worker thread');
const port = parentPort;
installNodeHasher();
new ExecutorCore({
  post: (m, transfer) => port.postMessage(m, transfer ?? []),
  onMessage: (h) => port.on('message', (m: ToExecutor) => h(m)),
});
