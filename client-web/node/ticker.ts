// A repeating timer that background tabs do not throttle: Chrome wakes a
// hidden page's timers at most once a minute after a while, which would miss
// heartbeats, but timers inside a dedicated worker run on time and its
// messages wake the page.
const SOURCE = `let t = null; onmessage = (e) => { clearInterval(t); if (e.data > 0) t = setInterval(() => postMessage(0), e.data); };`;

export function workerEvery(ms: number, fn: () => void): () => void {
  let worker: Worker | null = null;
  try {
    const url = URL.createObjectURL(new Blob([SOURCE], { type: 'text/javascript' }));
    worker = new Worker(url, { name: 'tabmesh-ticker' });
    URL.revokeObjectURL(url);
  } catch {
    worker = null; // no workers from blobs here (a CSP): plain timers
  }
  if (!worker) {
    const h = setInterval(fn, ms);
    return () => clearInterval(h);
  }
  const w = worker;
  w.onmessage = () => fn();
  w.postMessage(ms);
  return () => w.terminate();
}
