// An edge executor: a worker_threads Worker running the shared executor core.
import { parentPort } from 'node:worker_threads';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ExecutorCore } from '../shared/executor/core.js';
import type { ToExecutor } from '../shared/executor/protocol.js';
import { installNodeHasher } from './node-hash.js';

if (!parentPort) throw new Error('edge/worker.js runs as a worker thread');
const port = parentPort;
installNodeHasher();

/**
 * A full collection on demand (issue 17: leases of lent views come back when
 * the node freed their object). V8 gives `gc` only to contexts made while
 * --expose-gc is set: a fresh context gets it, the flag is cleared at once,
 * and task code (in this thread's main context) never sees it.
 */
function collector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
new ExecutorCore(
  {
    post: (m, transfer) => port.postMessage(m, transfer ?? []),
    onMessage: (h) => port.on('message', (m: ToExecutor) => h(m)),
  },
  // Runtime env modules (issue 16) are self-contained bundles: a data: URL evaluates one with no file and no resolution.
  (bytes) => import(`data:text/javascript;base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`),
  collector(),
  () => {
    const h = getHeapStatistics();
    return h.used_heap_size + h.external_memory;
  },
);
