// embed.js (issue 3): a site adds
//   <script src="https://COORDINATOR/embed.js" data-cpus="1" data-cpu-share="0.5" async></script>
// and its visitors' tabs join the coordinator's mesh. The node runs in a small
// iframe from the coordinator's origin (Web Workers and IndexedDB must be
// same-origin with it), shown as a badge that tells the visitor the page
// donates compute, with Pause and a link to learn more.
// data-upload-mibps="1" caps what the visitor's tab uploads to other peers (MiB/s; issue 17).
// data-consent="ask" asks the visitor before starting; data-position="left"
// puts the badge bottom-left. The host page can also call
// window.tabmesh.pause() / resume() and listen to "tabmesh:status" events on
// window (or document, or the script tag: the event bubbles up to window).

interface BadgeStatus {
  type: 'tabmesh:status';
  state: string;
  paused: boolean;
  tasksRun: number;
  height: number;
}

(() => {
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script?.src) {
    console.warn('tabmesh embed.js: load it with a plain <script src> tag (document.currentScript is needed)');
    return;
  }
  const w = window as unknown as { tabmesh?: { pause(): void; resume(): void } };
  if (w.tabmesh) return; // included twice
  const origin = new URL(script.src).origin;
  const d = script.dataset;
  const params = new URLSearchParams();
  if (d.cpus) params.set('cpus', d.cpus);
  if (d.cpuShare) params.set('cpuShare', d.cpuShare);
  if (d.memoryMb) params.set('memoryMb', d.memoryMb);
  if (d.uploadMibps) params.set('uploadMiBps', d.uploadMibps);
  if (d.consent) params.set('consent', d.consent);
  if (d.join) params.set('join', d.join);
  params.set('site', location.host);

  const frame = document.createElement('iframe');
  frame.src = `${origin}/embed/frame.html?${params}`;
  frame.title = 'tabmesh: this page donates spare computing power';
  const left = d.position === 'left';
  Object.assign(frame.style, {
    position: 'fixed',
    bottom: '12px',
    [left ? 'left' : 'right']: '12px',
    width: '340px',
    maxWidth: 'calc(100vw - 24px)',
    height: '56px',
    border: '0',
    borderRadius: '14px',
    boxShadow: '0 6px 24px rgba(15, 17, 23, 0.18)',
    zIndex: '2147483646',
    colorScheme: 'normal',
    background: 'transparent',
  });
  const send = (type: string) => frame.contentWindow?.postMessage({ type }, origin);
  w.tabmesh = { pause: () => send('tabmesh:pause'), resume: () => send('tabmesh:resume') };

  window.addEventListener('message', (ev: MessageEvent<BadgeStatus>) => {
    if (ev.origin !== origin || ev.source !== frame.contentWindow || ev.data?.type !== 'tabmesh:status') return;
    frame.style.height = `${Math.max(40, Math.min(240, ev.data.height))}px`;
    // One event that bubbles from the script tag through document to window; a
    // script tag a loader removed from the page is not on that path, so then it
    // starts at document.
    const event = new CustomEvent('tabmesh:status', { detail: ev.data, bubbles: true });
    (script.isConnected ? script : document).dispatchEvent(event);
  });

  const mount = () => document.body.appendChild(frame);
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
