// A browser executor: a dedicated Web Worker running the shared executor core
// (the browser twin of edge/worker.ts). It takes its two ports from the first
// message, then locks its scope down before any task code can load.
import * as Comlink from 'comlink';
import { ExecutorCore } from '../../shared/executor/core.js';
import type { ToExecutor } from '../../shared/executor/protocol.js';
import type { ExecutorApi, ExecutorHost, ExecutorInit } from './executor-api.js';
import { lockDown } from './sandbox.js';

/** The worker's global scope (the DOM lib types it as a Window). */
const scope = self as unknown as { onmessage: ((ev: MessageEvent<ExecutorInit>) => void) | null };

scope.onmessage = (ev: MessageEvent<ExecutorInit>) => {
  scope.onmessage = null;
  const { api, host } = ev.data;
  const runtime = Comlink.wrap<ExecutorHost>(host);
  let deliver: (m: ToExecutor) => void = () => {};
  new ExecutorCore({
    // Result bytes move to the page (a transfer list), not cloned.
    post: (m, transfer) => void runtime.deliver(transfer?.length ? Comlink.transfer(m, transfer) : m),
    onMessage: (h) => (deliver = h),
  });
  const exposed: ExecutorApi = { deliver: (m) => deliver(m) };
  Comlink.expose(exposed, api);
  lockDown();
};
