// An edge executor: a worker_threads Worker running the shared executor core.
import { parentPort } from 'node:worker_threads';
import { ExecutorCore } from '../shared/executor/core.js';
import type { ToExecutor } from '../shared/executor/protocol.js';
import { installNodeHasher } from './node-hash.js';

if (!parentPort) throw new Error('edge/worker.js runs as a worker thread');
const port = parentPort;
installNodeHasher();
new ExecutorCore(
  {
    post: (m, transfer) => port.postMessage(m, transfer ?? []),
    onMessage: (h) => port.on('message', (m: ToExecutor) => h(m)),
  },
  // Runtime env modules (issue 16) are self-contained bundles: a data: URL evaluates one with no file and no resolution.
  (bytes) => import(`data:text/javascript;base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`),
);
