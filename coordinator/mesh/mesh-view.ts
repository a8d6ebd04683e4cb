// One view of the whole mesh (issue 15): whichever coordinator serves the
// state API, /api/nodes and /api/jobs list every coordinator's rows, each with
// its `coordinator`. Rows are asked of the other coordinators over the mesh
// bus when a reader asks (nothing is copied into Redis per node or per job),
// with a bounded wait: a coordinator that does not answer in time is named in
// the answer's `missing`, not waited for. Counts come from the registry
// records every coordinator writes each beat (no round trip).
//
// The state API provides the rows (provideView, at registration); the mesh
// answers with them and gathers the others' (meshViewOf, once it started).
import type { CoordinatorView } from '../../shared/dashboard.js';

/** What a reader asks every coordinator for. */
export type ViewWhat = 'nodes' | 'jobs' | 'tasks' | 'objects' | 'actors';
export interface ViewQuery {
  what: ViewWhat;
  /** The first `take` matching rows (offset + limit of the merged page). */
  take: number;
  kind?: string;
  status?: string;
  job?: string;
  state?: string;
  node?: string;
  name?: string;
  /** Digits, as the state API's query has it. */
  minSize?: string;
}
export type ViewRow = Record<string, unknown> & { coordinator?: string };
export interface ViewPage {
  /** Rows matching, on that coordinator. */
  total: number;
  rows: ViewRow[];
}
type Provider = (q: ViewQuery) => ViewPage;

/** How long a reader waits for the other coordinators' rows. */
export const VIEW_TIMEOUT_MS = 1000;
/** Rows one coordinator sends for one question (offset + limit beyond it reads the first ones only). */
export const MAX_VIEW_ROWS = 5000;
/** Questions waiting for answers at once; beyond it a reader gets this coordinator's rows only. */
const MAX_WAITING = 1000;

const providers = new WeakMap<object, Map<ViewWhat, Provider>>();
const views = new WeakMap<object, MeshView>();

/** The state API's rows of `what` on this coordinator (`owner`: the coordinator). */
export function provideView(owner: object, what: ViewWhat, fn: Provider): void {
  let m = providers.get(owner);
  if (!m) providers.set(owner, (m = new Map<ViewWhat, Provider>()));
  m.set(what, fn);
}

/** The mesh view of this coordinator, if it is part of a mesh. */
export function meshViewOf(owner: object): MeshView | undefined {
  return views.get(owner);
}

export interface MeshViewPorts {
  send(to: string, kind: 'ask' | 'answer', payload: Uint8Array): void;
  /** The live other coordinators' ids. */
  others(): string[];
  /** Mesh-wide counts for /api/stats and the dashboard (registry records). */
  totals(): Record<string, number>;
  /** Every coordinator's record, this one first. */
  coordinators(): CoordinatorView[];
}

export interface Gathered {
  /** Every coordinator's page, this one first. */
  pages: { coordinator: string; page: ViewPage }[];
  /** Coordinators that did not answer in time. */
  missing: string[];
}

interface Waiting {
  left: Set<string>;
  pages: { coordinator: string; page: ViewPage }[];
  done: () => void;
}

const WHATS = new Set<string>(['nodes', 'jobs', 'tasks', 'objects', 'actors']);

/** A filter of a question: absent, or a string no longer than the state API takes. */
const text = (v: unknown, max: number) => v === undefined || (typeof v === 'string' && v.length <= max);

function isQuery(v: unknown): v is ViewQuery {
  const q = v as ViewQuery;
  return (
    typeof q === 'object' &&
    q !== null &&
    WHATS.has(q.what) &&
    Number.isInteger(q.take) &&
    q.take >= 0 &&
    text(q.kind, 64) &&
    text(q.status, 64) &&
    text(q.job, 64) &&
    text(q.state, 32) &&
    text(q.node, 64) &&
    text(q.name, 256) &&
    (q.minSize === undefined || (typeof q.minSize === 'string' && /^[0-9]{1,15}$/.test(q.minSize)))
  );
}

function isPage(v: unknown): v is ViewPage {
  const p = v as ViewPage;
  return (
    typeof p === 'object' &&
    p !== null &&
    Number.isInteger(p.total) &&
    p.total >= 0 &&
    Array.isArray(p.rows) &&
    p.rows.length <= MAX_VIEW_ROWS &&
    p.rows.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))
  );
}

export class MeshView {
  private readonly waiting = new Map<number, Waiting>();
  private nextX = 1;
  /** Malformed questions or answers from other coordinators (dropped). */
  bad = 0;

  constructor(
    private readonly owner: object,
    readonly id: string,
    private readonly ports: MeshViewPorts,
  ) {
    views.set(owner, this);
  }

  private local(q: ViewQuery): ViewPage {
    const p = providers.get(this.owner)?.get(q.what)?.({ ...q, take: Math.min(q.take, MAX_VIEW_ROWS) }) ?? { total: 0, rows: [] };
    return { total: p.total, rows: p.rows.slice(0, MAX_VIEW_ROWS) };
  }

  totals(): Record<string, number> {
    return this.ports.totals();
  }

  coordinators(): CoordinatorView[] {
    return this.ports.coordinators();
  }

  /** This coordinator's rows and the others', each row stamped with its coordinator. */
  gather(q: ViewQuery, timeoutMs = VIEW_TIMEOUT_MS): Promise<Gathered> {
    const stamp = (coordinator: string, page: ViewPage) => ({ coordinator, page: { total: page.total, rows: page.rows.map((r) => ({ ...r, coordinator })) } });
    const mine = stamp(this.id, this.local(q));
    const others = this.ports.others();
    if (others.length === 0 || this.waiting.size >= MAX_WAITING) return Promise.resolve({ pages: [mine], missing: others });
    const x = this.nextX;
    this.nextX = this.nextX >= 2 ** 31 ? 1 : this.nextX + 1;
    const payload = Buffer.from(JSON.stringify({ x, q }));
    return new Promise((resolve) => {
      const w: Waiting = {
        left: new Set(others),
        pages: [],
        done: () => {
          clearTimeout(timer);
          this.waiting.delete(x);
          w.pages.sort((a, b) => (a.coordinator < b.coordinator ? -1 : 1));
          resolve({ pages: [mine, ...w.pages.map((p) => stamp(p.coordinator, p.page))], missing: [...w.left].sort() });
        },
      };
      const timer = setTimeout(() => w.done(), timeoutMs);
      this.waiting.set(x, w);
      for (const o of others) this.ports.send(o, 'ask', payload);
    });
  }

  /** Another coordinator asks for our rows. */
  onAsk(from: string, payload: Uint8Array): void {
    const m = parse(payload) as { x?: unknown; q?: unknown } | null;
    if (!m || !Number.isInteger(m.x) || !isQuery(m.q)) return void this.bad++;
    this.ports.send(from, 'answer', Buffer.from(JSON.stringify({ x: m.x, page: this.local(m.q) })));
  }

  /** Another coordinator's rows, for a question of ours. */
  onAnswer(from: string, payload: Uint8Array): void {
    const m = parse(payload) as { x?: unknown; page?: unknown } | null;
    if (!m || typeof m.x !== 'number' || !isPage(m.page)) return void this.bad++;
    const w = this.waiting.get(m.x);
    if (!w || !w.left.delete(from)) return;
    w.pages.push({ coordinator: from, page: m.page });
    if (w.left.size === 0) w.done();
  }

  close(): void {
    for (const w of [...this.waiting.values()]) w.done();
    views.delete(this.owner);
  }
}

function parse(payload: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    return null;
  }
}

/** The merged page: rows in coordinator order (this one first), or by `order` across all. */
export function mergePages(g: Gathered, offset: number, limit: number, order?: (a: ViewRow, b: ViewRow) => number): { total: number; rows: ViewRow[] } {
  const all = g.pages.flatMap((p) => p.page.rows);
  if (order) all.sort(order);
  return { total: g.pages.reduce((n, p) => n + p.page.total, 0), rows: all.slice(offset, offset + limit) };
}
