// A browser executor: a dedicated Web Worker running the shared executor core
// (the browser twin of edge/worker.ts). It takes its two ports from the first
// message, then locks its scope down before any task code can load.
import * as Comlink from 'comlink';
import { ExecutorCore } from '../../shared/executor/core.js';
import type { ToExecutor } from '../../shared/executor/protocol.js';
import type { ExecutorApi, ExecutorHost, ExecutorInit } from './executor-api.js';
import { lockDown } from './sandbox.js';

/**
 * Runtime env modules (issue 16): a blob: URL of the worker's own origin, which
 * the executor CSP allows as a script source (and nothing else); the module
 * runs in this scope, under the same lockDown as task code.
 */
async function loadModule(bytes: Uint8Array): Promise<unknown> {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'text/javascript' }));
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
  const { api, host } = ev.data;
  const runtime = Comlink.wrap<ExecutorHost>(host);
  let deliver: (m: ToExecutor) => void = () => {};
  new ExecutorCore(
    {
      // Result bytes move to the page (a transfer list), not cloned.
      post: (m, transfer) => void runtime.deliver(transfer?.length ? Comlink.transfer(m, transfer) : m),
      onMessage: (h) => (deliver = h),
    },
    loadModule,
  );
  const exposed: ExecutorApi = { deliver: (m) => deliver(m) };
  Comlink.expose(exposed, api);
  lockDown();
};
