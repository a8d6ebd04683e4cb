// What every view gets: the live document, the API, and the viewer's role.
import type { Api } from './api.js';
import type { LiveDoc } from './live.js';
import { h } from './dom.js';

export type { JobView, NodeView } from '../../shared/dashboard.js';

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
