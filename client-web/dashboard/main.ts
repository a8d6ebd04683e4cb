// The dashboard shell: the token, the live document, navigation and views.
// Routes (in the hash, so the page is one static file): #/ overview,
// #/jobs, #/jobs/ID[/log|graph|timeline], #/tasks, #/objects, #/actors, #/submit.
import './style.css';
import { Api } from './api.js';
import { h } from './dom.js';
import { LiveDoc } from './live.js';
import type { Ctx, View } from './context.js';
import { overview } from './views/overview.js';
import { jobs } from './views/jobs.js';
import { job } from './views/job.js';
import { actors, objects, tasks } from './views/tables.js';
import { submit } from './views/submit.js';

const TOKEN_KEY = 'tabmesh.dashboard.token';
const UPDATE_MS = 250;
/** A socket back within this long was a blip, not a coordinator that is down. */
const DOWN_AFTER_MS = 1500;

/** The token comes in the fragment (never sent to the server), then lives in sessionStorage. */
function takeToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + '#/');
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function login(message = ''): void {
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true }) as HTMLInputElement;
  document.body.replaceChildren(
    h(
      'main',
      { class: 'login' },
      h(
        'form',
        {
          class: 'card',
          onsubmit: (e: Event) => {
            e.preventDefault();
            sessionStorage.setItem(TOKEN_KEY, input.value.trim());
            location.hash = '#/';
            location.reload();
          },
        },
        h('h1', {}, h('span', { class: 'logo' }, '◆'), ' tabmesh'),
        h('p', {}, 'This dashboard needs a token: the driver token printed by ', h('code', {}, 'npm start'), ', or a viewer token.'),
        message ? h('p', { class: 'error', role: 'alert' }, message) : null,
        h('label', { for: 'token' }, 'Token'),
        input,
        h('button', { type: 'submit', class: 'button primary' }, 'Open'),
      ),
    ),
  );
  input.focus();
}

function start(token: string): void {
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/dashboard/ws`;
  const live = new LiveDoc(wsUrl, token);
  const api = new Api(token);
  const main = h('main', { id: 'main', tabindex: -1 });
  const status = h('span', { class: 'conn', role: 'status', 'aria-live': 'polite' });
  const announcer = h('div', { class: 'sr-only', 'aria-live': 'assertive' });
  const down = h('div', { class: 'down-banner', role: 'alert', 'data-testid': 'coordinator-down', hidden: true });
  const navItems: [string, string][] = [
    ['#/', 'Overview'],
    ['#/jobs', 'Jobs'],
    ['#/tasks', 'Tasks'],
    ['#/objects', 'Objects'],
    ['#/actors', 'Actors'],
    ['#/submit', 'Submit'],
  ];
  const nav = h(
    'nav',
    { 'aria-label': 'sections' },
    h(
      'ul',
      {},
      navItems.map(([href, label]) => h('li', {}, h('a', { href, 'data-route': href }, label))),
    ),
  );
  document.body.replaceChildren(
    h(
      'a',
      {
        href: '#main',
        class: 'skip',
        onclick: (e: Event) => {
          e.preventDefault();
          main.focus();
        },
      },
      'Skip to content',
    ),
    h('header', { class: 'top' }, h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), ' tabmesh'), nav, status),
    down,
    main,
    announcer,
  );
  const ctx: Ctx = {
    live,
    api,
    role: () => live.role || 'viewer',
    navigate: (hash) => {
      location.hash = hash;
    },
    announce: (text) => {
      announcer.textContent = text;
    },
  };
  let view: View | null = null;
  let section = '';
  const route = () => {
    view?.dispose?.();
    const path = location.hash.replace(/^#/, '') || '/';
    const parts = path.split('/').filter(Boolean);
    main.replaceChildren();
    const root = h('div', { class: 'view' });
    main.append(root);
    if (parts[0] === 'jobs' && parts[1]) view = job(ctx, root, parts[1], (parts[2] as 'log' | 'graph' | 'timeline') ?? 'log');
    else if (parts[0] === 'jobs') view = jobs(ctx, root);
    else if (parts[0] === 'tasks') view = tasks(ctx, root, parts[1]);
    else if (parts[0] === 'objects') view = objects(ctx, root);
    else if (parts[0] === 'actors') view = actors(ctx, root);
    else if (parts[0] === 'submit') view = submit(ctx, root);
    else view = overview(ctx, root);
    document.title = `${view.title} · tabmesh`;
    section = `#/${parts[0] ?? ''}`.replace(/\/$/, '/');
    for (const a of nav.querySelectorAll('a')) {
      const on = a.getAttribute('data-route') === (section === '#/' ? '#/' : section);
      if (on) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    live.setViewing(path);
  };
  // Live updates, at most every UPDATE_MS.
  let pending = false;
  const renderStatus = () => {
    const w = live.watchers;
    status.className = `conn conn-${live.status}`;
    status.textContent = `${live.status === 'live' ? 'live' : live.status}${live.role ? ` · ${live.role}` : ''}${w ? ` · ${w} other viewer${w > 1 ? 's' : ''}` : ''}`;
    renderDown();
  };
  // The coordinator is down: say so, and hide the numbers (they would be stale)
  // except the editor's draft. Back up: every view is drawn afresh.
  let wasDown = false;
  const renderDown = () => {
    const isDown = live.status === 'reconnecting' && live.downSince > 0 && Date.now() - live.downSince >= DOWN_AFTER_MS;
    if (isDown) {
      const text = `The coordinator at ${location.host} is not reachable (since ${new Date(live.downSince).toLocaleTimeString([], { hour12: false })}). Nothing on this page is current until it is back; retrying…`;
      if (down.textContent !== text) down.textContent = text;
    }
    down.hidden = !isDown;
    main.hidden = isDown && section !== '#/submit';
    if (wasDown && !isDown && live.status === 'live' && section !== '#/submit') route();
    wasDown = isDown;
  };
  setInterval(renderStatus, 1000);
  live.onChange(() => {
    if (live.status === 'unauthorized') {
      sessionStorage.removeItem(TOKEN_KEY);
      return login(
        'Token rejected: the coordinator did not accept this token. Give the driver token printed by npm start (also in .tabmesh/token), or a viewer token.',
      );
    }
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      renderStatus();
      view?.update?.();
    }, UPDATE_MS);
  });
  window.addEventListener('hashchange', route);
  live.connect();
  route();
  renderStatus();
  // For tests and the curious: the live replica.
  (window as unknown as { tabmesh: unknown }).tabmesh = { live };
}

const token = takeToken();
if (token) start(token);
else login();
