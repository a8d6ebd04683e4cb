// What every view gets: the live document, the API, and the viewer's role.
import type { Api } from './api.js';
import type { LiveDoc } from './live.js';
import { h } from './dom.js';

export interface Ctx {
  live: LiveDoc;
  api: Api;
  /** 'driver' may submit and cancel; 'viewer' only reads. */
  role(): string;
  navigate(hash: string): void;
  announce(text: string): void;
}

export interface View {
  title: string;
  /** Re-renders from the live document (throttled by the shell). */
  update?(): void;
  dispose?(): void;
}

export interface JobView {
  name: string;
  kind: string;
  status: string;
  submitted: number;
  finished: number;
  failed: number;
  cancelled: number;
  running: number;
  startedAt: number;
  endedAt: number;
  error: string;
  /** How a driver session ended; '' while it runs and for submitted jobs. */
  ended: string;
  result: string;
}

export interface NodeView {
  kind: string;
  name: string;
  state: string;
  cpus: number;
  running: number;
  queued: number;
  inflight: number;
  storeBytes: number;
  objects: number;
  bytesIn: number;
  bytesOut: number;
  tasksDone: number;
  joinedAt: number;
  /** Issue 8: new, trusted, suspect or distrusted. */
  trust?: string;
}

/**
 * Replaces a region's content, keeping keyboard focus on the element with
 * the same data-key (live updates must not throw a keyboard user out).
 */
export function swap(region: Element, ...next: (Node | null)[]): void {
  const active = document.activeElement;
  const key = active && region.contains(active) ? active.getAttribute('data-key') : null;
  region.replaceChildren(...next.filter((n): n is Node => n !== null));
  if (key) (region.querySelector(`[data-key="${CSS.escape(key)}"]`) as HTMLElement | null)?.focus();
}

export function card(title: string, ...body: (Node | string | null)[]): HTMLElement {
  return h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), ...body);
}
