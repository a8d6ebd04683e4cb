// Copies held for jobs this coordinator does not run yet (issue 15). When a
// coordinator of the mesh dies, its nodes join another one, often before the
// job's driver comes back and the job is taken over: the objects they announce
// are unknown here for a while. Rather than have them dropped (and rebuilt
// from lineage), their announcements wait, bounded in number and time; when a
// job is taken over, the waiting copies of its objects are announced to the
// directory, which checks size and hash against the job's rows as for any
// reconnected node. The copies a guest job's tasks left on our own nodes wait
// the same way across the takeover (their guest records go with the guest job).
import type { JobId, ObjectId } from '../../shared/ids.js';
import type { Managers } from '../managers.js';
import type { Session } from '../session.js';

export interface Holding {
  id: ObjectId;
  size: number;
  hash: string;
}

/** At most this many announcements wait at once; past it, they are refused as before (the node drops the copy). */
const MAX_WAITING = 200_000;

function add(m: Map<Session, ObjectId[]>, s: Session, id: ObjectId): void {
  const ids = m.get(s);
  if (ids) ids.push(id);
  else m.set(s, [id]);
}

interface Waiting {
  s: Session;
  h: Holding;
  until: number;
}

export class MovedHoldings {
  private readonly waiting = new Map<ObjectId, Waiting[]>();
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly c: Pick<Managers, 'dir' | 'gcs'>,
    /** How long an announcement waits for its job to be taken over. */
    private readonly waitMs: number,
  ) {}

  /** How many announcements wait. */
  get size(): number {
    return this.count;
  }

  /**
   * Of a node's announcements the directory refused, those of objects unknown
   * here wait for a takeover; returns the others (stale: the node drops them).
   */
  park(s: Session, refused: Holding[]): Holding[] {
    const stale: Holding[] = [];
    const until = Date.now() + this.waitMs;
    for (const h of refused) {
      if (this.c.dir.get(h.id) || this.count >= MAX_WAITING || s.role !== 'node' || s.meshLink !== undefined) {
        stale.push(h);
        continue;
      }
      let list = this.waiting.get(h.id);
      if (!list) this.waiting.set(h.id, (list = []));
      list.push({ s, h, until });
      this.count++;
    }
    if (this.count > 0) this.timer ??= setTimeout(() => this.expire(), this.waitMs).unref();
    return stale;
  }

  /** Copies our nodes hold of a guest job's objects, whose records go with the guest job when we take it over: they wait for its rows. */
  keep(copies: [Session, Holding][]): void {
    const until = Date.now() + this.waitMs;
    for (const [s, h] of copies) {
      let list = this.waiting.get(h.id);
      if (!list) this.waiting.set(h.id, (list = []));
      list.push({ s, h, until });
      this.count++;
    }
    if (this.count > 0) this.timer ??= setTimeout(() => this.expire(), this.waitMs).unref();
  }

  /** A job was taken over (its rows read back): the waiting copies of objects now known are announced. */
  replay(): number {
    let kept = 0;
    const refused = new Map<Session, ObjectId[]>();
    for (const [id, list] of this.waiting) {
      if (!this.c.dir.get(id)) continue;
      this.waiting.delete(id);
      this.count -= list.length;
      for (const { s, h } of list) {
        if (s.closed) continue;
        if (this.c.dir.announced(s, h)) kept++;
        else add(refused, s, id);
      }
    }
    for (const [s, ids] of refused) s.send({ t: 'free', ids });
    return kept;
  }

  /** Announcements whose job nobody took over in time: stale after all. */
  private expire(): void {
    this.timer = null;
    const now = Date.now();
    const refused = new Map<Session, ObjectId[]>();
    let next = Infinity;
    for (const [id, list] of this.waiting) {
      const left = list.filter((w) => w.until > now);
      for (const w of list) if (w.until <= now && !w.s.closed) add(refused, w.s, id);
      this.count -= list.length - left.length;
      if (left.length === 0) this.waiting.delete(id);
      else {
        this.waiting.set(id, left);
        for (const w of left) next = Math.min(next, w.until);
      }
    }
    for (const [s, ids] of refused) s.send({ t: 'free', ids });
    if (next < Infinity) this.timer = setTimeout(() => this.expire(), Math.max(10, next - now)).unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.waiting.clear();
    this.count = 0;
  }
}

/** Copies our own nodes hold of a guest job's stored objects; their records leave without a `free` to the nodes. */
export function guestCopies(c: Pick<Managers, 'dir' | 'gcs'>, job: JobId): [Session, Holding][] {
  const j = c.gcs.jobs.get(job);
  if (!j?.guest) return [];
  const out: [Session, Holding][] = [];
  for (const x of j.objects) {
    const id = x.id;
    const o = c.dir.get(id);
    if (!o || o.state !== 'ready' || o.v || !o.hash) continue;
    for (const s of c.dir.detachCopies(o)) {
      if (s.role === 'node' && s.meshLink === undefined && !s.closed) out.push([s, { id, size: o.size, hash: o.hash }]);
    }
  }
  return out;
}
