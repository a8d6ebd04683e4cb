// A browser executor: a dedicated Web Worker running the shared executor core
// (the browser twin of edge/worker.ts). It takes its port from the first
// message, then locks its scope down before any task code can load.
import { isShared } from '../../shared/shared-memory.js';
import { ExecutorCore } from '../../shared/executor/core.js';
import type { FromExecutor, ToExecutor } from '../../shared/executor/protocol.js';
import type { ExecutorInit } from './executor-api.js';
import { lockDown } from './sandbox.js';

/**
 * Runtime env modules (issue 16): a blob: URL of the worker's own origin, which
 * the executor CSP allows as a script source (and nothing else); the module
 * runs in this scope, under the same lockDown as task code.
 */
async function loadModule(bytes: Uint8Array): Promise<unknown> {
  // A Blob takes no view of shared memory (an isolated tab's objects, issue 17): a copy, which it makes anyway.
  const own = isShared(bytes) ? bytes.slice() : bytes;
  const url = URL.createObjectURL(new Blob([own as Uint8Array<ArrayBuffer>], { type: 'text/javascript' }));
  try {
    return await import(/* @vite-ignore */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The worker's global scope (the DOM lib types it as a Window). */
const scope = self as unknown as { onmessage: ((ev: MessageEvent<ExecutorInit>) => void) | null };

scope.onmessage = (ev: MessageEvent<ExecutorInit>) => {
  scope.onmessage = null;
  const { port } = ev.data;
  new ExecutorCore(
    {
      // Byte arrays the executor no longer needs move to the page (a transfer list), not cloned.
      post: (m, transfer) => port.postMessage(m, transfer ?? []),
      onMessage: (h) => (port.onmessage = (e: MessageEvent<ToExecutor>) => h(e.data)),
    },
    loadModule,
  );
  lockDown();
  // The script loaded: from now on a worker error is a task's, not a failed start.
  port.postMessage({ k: 'up' } satisfies FromExecutor);
};
