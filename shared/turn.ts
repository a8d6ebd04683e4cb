// "At the end of this turn": setImmediate on Node, a MessageChannel in
// browsers and workers (setTimeout(0) is clamped to 4 ms there).
type G = {
  setImmediate?: (fn: () => void) => void;
  MessageChannel?: new () => { port1: { onmessage: (() => void) | null }; port2: { postMessage(v: unknown): void } };
};

function makeNextTurn(): (fn: () => void) => void {
  const g = globalThis as unknown as G;
  // Looked up at each call, so that a test's fake clock (vitest) drives it too.
  if (typeof g.setImmediate === 'function') return (fn) => (globalThis as unknown as G).setImmediate!(fn);
  if (typeof g.MessageChannel === 'function') {
    const ch = new g.MessageChannel();
    const queue: Array<() => void> = [];
    ch.port1.onmessage = () => {
      const q = queue.splice(0);
      for (const f of q) f();
    };
    return (fn) => {
      queue.push(fn);
      if (queue.length === 1) ch.port2.postMessage(0);
    };
  }
  return (fn) => setTimeout(fn, 0);
}

export const nextTurn: (fn: () => void) => void = makeNextTurn();
