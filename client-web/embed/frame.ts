// The embed badge (issue 3): runs inside the iframe embed.js adds to a host
// page, on the coordinator's origin. It is a volunteer like the volunteer page,
// with a compact face: state, Pause, a link to learn more, and (with
// data-consent="ask") a question before anything starts.
import { loadSettings, urlOverrides } from '../node/settings.js';
import { describeBrowser, Volunteer } from '../node/volunteer.js';
import { formatCount } from '../volunteer/format.js';

const SETTINGS_KEY = 'tabmesh.embed.settings';
const CONSENT_KEY = 'tabmesh.embed.consent';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const o = urlOverrides();
const site = (o.site ?? document.referrer.replace(/^https?:\/\//, '').split('/')[0]) || 'a web page';

const volunteer = new Volunteer({
  url: location.origin,
  name: `embed on ${site.slice(0, 64)} · ${describeBrowser()}`,
  // The site chooses executors, share and upload cap; the visitor's own choice (pause) is kept.
  settings: loadSettings(SETTINGS_KEY, { cpus: o.cpus ?? '1', cpuShare: o.cpuShare ?? '0.5', memoryMb: o.memoryMb ?? '64', uploadMiBps: o.uploadMiBps }),
  settingsKey: SETTINGS_KEY,
  scope: 'embed',
  joinToken: o.join,
});
(window as unknown as { tabmeshVolunteer: Volunteer }).tabmeshVolunteer = volunteer;

const toggle = $<HTMLButtonElement>('toggle');
let started = false;

function post(): void {
  const st = volunteer.stats();
  const asking = document.body.classList.contains('asking');
  parent.postMessage(
    {
      type: 'tabmesh:status',
      state: started ? st.state : asking ? 'asking' : 'declined',
      paused: st.paused,
      tasksRun: st.tasksRun,
      height: document.documentElement.scrollHeight,
    },
    '*',
  );
}

function render(): void {
  const st = volunteer.stats();
  const shown = st.state === 'connected' && st.paused ? 'paused' : st.state;
  document.body.dataset.state = started ? shown : 'declined';
  document.body.dataset.nodeId = st.nodeId ?? '';
  toggle.textContent = st.paused ? 'Resume' : 'Pause';
  toggle.setAttribute('aria-pressed', String(st.paused));
  const text = !started
    ? 'Sharing spare computing power is off'
    : shown === 'paused'
      ? 'Sharing spare computing power is paused'
      : shown === 'connected'
        ? `This page shares spare computing power${st.tasksRun ? ` · ${formatCount(st.tasksRun)} tasks` : ''}`
        : shown === 'reconnecting'
          ? 'Cannot reach the tabmesh server · retrying…'
          : 'Connecting to share spare computing power…';
  const el = $('text');
  if (el.textContent !== text) el.textContent = text;
  post();
}

function begin(): void {
  document.body.classList.remove('asking');
  $('ask').hidden = true;
  started = true;
  volunteer.onChange(render);
  setInterval(render, 1000);
  void volunteer.start().catch((e: Error) => volunteer.log(`could not start: ${e.message}`));
  render();
}

toggle.addEventListener('click', () => {
  if (!started) {
    remember('yes');
    return begin();
  }
  volunteer.setPaused(!volunteer.settings.paused);
});

// The host page may pause and resume (window.tabmesh in embed.js).
addEventListener('message', (ev: MessageEvent<{ type?: string }>) => {
  if (ev.source !== parent || !started) return;
  if (ev.data?.type === 'tabmesh:pause') volunteer.setPaused(true);
  if (ev.data?.type === 'tabmesh:resume') volunteer.setPaused(false);
});

const consent = (() => {
  try {
    return localStorage.getItem(CONSENT_KEY);
  } catch {
    return null;
  }
})();
const remember = (v: string) => {
  try {
    localStorage.setItem(CONSENT_KEY, v);
  } catch {
    /* storage disabled */
  }
};

if (o.consent === 'ask' && consent !== 'yes') {
  if (consent === 'no') {
    render(); // a badge that says it is off, with a button to start
    toggle.textContent = 'Start';
  } else {
    document.body.classList.add('asking');
    $('ask').hidden = false;
    post();
  }
  $('allow').addEventListener('click', () => {
    remember('yes');
    begin();
  });
  $('deny').addEventListener('click', () => {
    remember('no');
    document.body.classList.remove('asking');
    $('ask').hidden = true;
    render();
    toggle.textContent = 'Start';
  });
} else begin();
