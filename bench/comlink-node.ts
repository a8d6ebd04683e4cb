// A Comlink Endpoint over a worker_threads MessagePort (Node's ports emit
// data, not MessageEvents), for bench/executor-rpc.ts.
import type { MessagePort } from 'node:worker_threads';
import type * as Comlink from 'comlink';

export function nodeEndpoint(port: MessagePort): Comlink.Endpoint {
  const handlers = new WeakMap<object, (data: unknown) => void>();
  return {
    postMessage: (m: unknown, transfer?: Transferable[]) => port.postMessage(m, transfer as never),
    addEventListener: (_type: string, l: EventListenerOrEventListenerObject) => {
      const h = (data: unknown) => {
        const ev = { data } as MessageEvent;
        if ('handleEvent' in l) l.handleEvent(ev);
        else l(ev);
      };
      handlers.set(l, h);
      port.on('message', h);
    },
    removeEventListener: (_type: string, l: EventListenerOrEventListenerObject) => {
      const h = handlers.get(l);
      if (h) port.off('message', h);
    },
  };
}
