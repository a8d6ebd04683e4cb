// The volunteer page (issue 3), served at / by the coordinator: opening it
// joins the mesh. It shows what the tab does and holds the volunteer's controls.
import { loadSettings, MAX_CPUS, urlOverrides } from '../node/settings.js';
import { describeBrowser, Volunteer, type VolunteerStats } from '../node/volunteer.js';
import { formatBytes, formatCount, formatTime } from './format.js';

const SETTINGS_KEY = 'tabmesh.volunteer.settings';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const overrides = urlOverrides();
const volunteer = new Volunteer({
  url: location.origin,
  name: overrides.name ?? `tab ${Math.random().toString(16).slice(2, 6)} · ${describeBrowser()}`,
  settings: loadSettings(SETTINGS_KEY, overrides),
  settingsKey: SETTINGS_KEY,
  scope: 'volunteer',
  joinToken: overrides.join,
});
// For the curious (and the tests): the live volunteer.
(window as unknown as { tabmeshVolunteer: Volunteer }).tabmeshVolunteer = volunteer;

$('host').textContent = location.host;
$('cores').textContent = String(MAX_CPUS);

const pause = $<HTMLButtonElement>('pause');
const leave = $<HTMLButtonElement>('leave');
const cpus = $<HTMLInputElement>('cpus');
const share = $<HTMLInputElement>('share');
const shareOut = $<HTMLOutputElement>('share-out');
const memory = $<HTMLInputElement>('memory');
const upload = $<HTMLInputElement>('upload');
cpus.max = String(MAX_CPUS * 2);

function showSettings(): void {
  const s = volunteer.settings;
  if (document.activeElement !== cpus) cpus.value = String(s.cpus);
  share.value = String(Math.round(s.cpuShare * 100));
  shareOut.value = `${share.value}%`;
  if (document.activeElement !== memory) memory.value = String(s.memoryMb);
  if (document.activeElement !== upload) upload.value = String(s.uploadMiBps);
}

pause.addEventListener('click', () => volunteer.setPaused(!volunteer.settings.paused));
leave.addEventListener('click', () => {
  if (volunteer.state === 'left') volunteer.rejoin();
  else void volunteer.leave();
});
const setCpus = (n: number) => {
  const v = Math.min(MAX_CPUS * 2, Math.max(1, Math.round(n) || 1));
  if (v !== volunteer.settings.cpus) volunteer.setCpus(v);
  cpus.value = String(v);
};
$('cpus-dec').addEventListener('click', () => setCpus(volunteer.settings.cpus - 1));
$('cpus-inc').addEventListener('click', () => setCpus(volunteer.settings.cpus + 1));
cpus.addEventListener('change', () => setCpus(Number(cpus.value)));
share.addEventListener('input', () => (shareOut.value = `${share.value}%`));
share.addEventListener('change', () => volunteer.setCpuShare(Number(share.value) / 100));
memory.addEventListener('change', () => {
  const mb = Math.max(8, Math.round(Number(memory.value)) || 8);
  memory.value = String(mb);
  volunteer.setMemoryMb(mb);
});

upload.addEventListener('change', () => {
  volunteer.setUploadMiBps(Number(upload.value) || 0);
  upload.value = String(volunteer.settings.uploadMiBps);
});

const STATE_TEXT: Record<string, string> = {
  starting: 'Starting…',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Cannot reach the coordinator · retrying…',
  left: 'Not connected',
};

let lastEvents = -1;
let lastStatus = '';
function render(): void {
  const st: VolunteerStats = volunteer.stats();
  const shown = st.state === 'connected' && st.paused ? 'paused' : st.state;
  document.body.dataset.state = shown;
  const status = shown === 'paused' ? 'Connected · paused' : STATE_TEXT[st.state];
  if (status !== lastStatus) {
    $('status-text').textContent = status;
    $('headline').textContent =
      st.state === 'left' ? 'This tab has left the mesh' : st.paused ? 'This tab is paused' : 'This tab lends its spare computing power';
    lastStatus = status;
  }
  pause.textContent = st.paused ? 'Resume' : 'Pause';
  pause.setAttribute('aria-pressed', String(st.paused));
  pause.disabled = st.state === 'left';
  leave.textContent = st.state === 'left' ? 'Join again' : 'Leave';
  leave.classList.toggle('quiet', st.state !== 'left');
  $('s-executors').textContent = String(st.executors);
  $('s-executors-sub').textContent = `${volunteer.settings.cpuShare < 1 ? `${Math.round(volunteer.settings.cpuShare * 100)}% of the time` : 'Web Workers'}`;
  $('s-running').textContent = formatCount(st.running);
  $('s-queued').textContent = st.queued ? `${formatCount(st.queued)} waiting` : 'none waiting';
  $('s-run').textContent = formatCount(st.tasksRun);
  $('s-failed').textContent = [
    st.tasksFailed ? `${formatCount(st.tasksFailed)} failed` : 'none failed',
    st.tasksCancelled ? `${formatCount(st.tasksCancelled)} cancelled` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  $('s-objects').textContent = formatCount(st.store.objects);
  $('s-bytes').textContent = `${formatBytes(st.store.memoryBytes)} in memory · ${formatBytes(st.store.spilledBytes)} stored`;
  $('s-net').textContent = formatBytes(st.bytesIn + st.bytesOut);
  $('s-net-sub').textContent = `${formatBytes(st.bytesIn)} in · ${formatBytes(st.bytesOut)} out`;
  $('upload-used').textContent = `${formatBytes(st.peerBytesOut)} uploaded to other volunteers${
    st.uploadMiBps ? `, at most ${st.uploadMiBps} MiB/s` : ''
  }${st.linksFrozen ? ` · ${formatCount(st.linksFrozen)} frozen link${st.linksFrozen === 1 ? '' : 's'} closed` : ''}.`;
  $('node-id').textContent = st.nodeId ?? '–';
  document.body.dataset.nodeId = st.nodeId ?? '';
  showSettings();
  renderEvents();
}

function renderEvents(): void {
  const evs = volunteer.events;
  const key = evs.length ? evs[evs.length - 1].at + evs.length : 0;
  if (key === lastEvents) return;
  lastEvents = key;
  const list = $('events');
  list.replaceChildren(
    ...evs
      .slice(-50)
      .reverse()
      .map((e) => {
        const li = document.createElement('li');
        const time = document.createElement('time');
        time.dateTime = new Date(e.at).toISOString();
        time.textContent = formatTime(e.at);
        const text = document.createElement('span');
        text.textContent = e.text;
        li.append(time, text);
        return li;
      }),
  );
  if (!evs.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'Nothing yet.';
    list.append(li);
  }
}

volunteer.onChange(render);
setInterval(render, 500);
render();
volunteer.log(`opened on ${describeBrowser()} with ${MAX_CPUS} cores`);
void volunteer.start().catch((e: Error) => volunteer.log(`could not start: ${e.message}`));
