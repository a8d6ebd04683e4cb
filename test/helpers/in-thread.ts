// Executors that run the executor core in the test's thread (as bench:scale's
// simulated nodes do): messages go through microtasks, not postMessage, so that
// hundreds of real NodeRuntimes fit in one test process.
import { ExecutorCore } from '../../shared/executor/core.js';
import type { ToExecutor } from '../../shared/executor/protocol.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';

export const inThread: SpawnExecutor = (_index, onMessage) => {
  let toCore: (m: ToExecutor) => void = () => {};
  new ExecutorCore({ post: (m) => queueMicrotask(() => onMessage(m)), onMessage: (h) => (toCore = h) });
  return { post: (m) => queueMicrotask(() => toCore(m)), terminate: () => (toCore = () => {}) };
};
