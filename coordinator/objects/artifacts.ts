// Runtime env artifacts of the mesh (issue 16): bundles and WASM binaries are
// objects whose id derives from their content hash (artifactObjectId), so the
// same bytes are one object whichever job or driver declares them. Drivers
// offer what their job needs (`artifact`); the bytes are asked for (`upload`)
// only when the mesh holds no copy. An artifact lives while a running job
// declared it; when its last copy goes, a driver or a node that still has the
// bytes (nodes offer their env cache) is asked to put it again.
import { contentHash } from '../../shared/hash.js';
import { artifactObjectId, isArtifactObject, type JobId, type ObjectId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ObjectRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';
import type { ObjectDirectory } from './directory.js';

interface Artifact {
  id: ObjectId;
  hash: string;
  size: number;
  /** Running jobs that declared it: it is freed when the last one ends. */
  jobs: Set<JobId>;
  /** Sessions that said they hold its bytes (drivers that declared it, nodes that cached it). */
  sources: Set<Session>;
  /** The source asked to put it, until it does. */
  asked: Session | null;
}

/** At most this many artifacts are awaited at once (each holds a timer); past it, an unknown one is answered at once. */
const MAX_AWAITED = 4096;

export class ArtifactRegistry {
  private readonly byId = new Map<ObjectId, Artifact>();
  private readonly bySession = new Map<Session, Set<ObjectId>>();
  private readonly byJob = new Map<JobId, Set<ObjectId>>();
  /** Artifacts asked for before any driver declared them, with who asked (see `subscribe`). */
  private readonly awaited = new Map<ObjectId, { sessions: Set<Session>; timer: ReturnType<typeof setTimeout> }>();

  /** `waitMs`: how long a subscription to an undeclared artifact waits for its declaration (the job grace). */
  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    private readonly waitMs: number,
  ) {}

  /**
   * A node subscribes to objects (it needs their bytes). An artifact no job
   * declared yet is not unknown for good: after a coordinator restart the GCS
   * runs a job's unfinished tasks again before its driver resumed and offered
   * the artifacts again (they are not rows). Such a subscription waits for the
   * declaration, up to the job grace, instead of failing the task at once.
   */
  subscribe(s: Session, ids: ObjectId[]): void {
    const now: ObjectId[] = [];
    for (const id of ids) {
      if (!isArtifactObject(id) || this.dir.get(id) || (!this.awaited.has(id) && this.awaited.size >= MAX_AWAITED)) {
        now.push(id);
        continue;
      }
      let w = this.awaited.get(id);
      if (!w) {
        w = { sessions: new Set(), timer: setTimeout(() => this.answer(id), this.waitMs) };
        w.timer.unref?.();
        this.awaited.set(id, w);
      }
      w.sessions.add(s);
    }
    if (now.length) this.dir.subscribe(s, now);
  }

  /** Its record exists (declared) or the wait is over: the waiting sessions subscribe for real (unknown ones hear so). */
  private answer(id: ObjectId): void {
    const w = this.awaited.get(id);
    if (!w) return;
    this.awaited.delete(id);
    clearTimeout(w.timer);
    for (const s of w.sessions) if (!s.closed) this.dir.subscribe(s, [id]);
  }

  has(id: ObjectId): boolean {
    return this.byId.has(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** `s` holds these artifacts' bytes; a driver's job needs them. Returns an error text for a lie about a size. */
  offer(s: Session, m: MsgOf<'artifact'>): string | null {
    for (const { hash, size } of m.arts) {
      const id = artifactObjectId(hash);
      let a = this.byId.get(id);
      if (!a && s.role === 'driver' && s.jobId) a = this.create(id, hash, size, s.jobId);
      if (!a) continue; // a node's cached copy of something no running job needs
      if (a.size !== size) return `artifact ${hash.slice(0, 12)}: size ${size}, but it was declared with ${a.size}`;
      if (s.role === 'driver' && s.jobId && !a.jobs.has(s.jobId)) {
        a.jobs.add(s.jobId);
        index(this.byJob, s.jobId, id);
      }
      a.sources.add(s);
      index(this.bySession, s, id);
      const o = this.record(a);
      // Every copy had gone; this source brings it back.
      this.dir.setPendingAgain(o);
      if (o.state === 'pending' && !a.asked) this.ask(a, o, 'no copy in the mesh');
    }
    return null;
  }

  private create(id: ObjectId, hash: string, size: number, job: JobId): Artifact {
    const a: Artifact = { id, hash, size, jobs: new Set(), sources: new Set(), asked: null };
    this.byId.set(id, a);
    this.record(a, job);
    this.answer(id);
    return a;
  }

  /** Its directory record: held by this registry (one ref), not by a job, so it outlives the job that declared it first. */
  private record(a: Artifact, job = [...a.jobs][0]): ObjectRecord {
    return this.dir.get(a.id) ?? this.dir.create(a.id, job, 1, false);
  }

  /** A put of an artifact id from a source: its bytes (small) or a copy the sender serves. */
  put(s: Session, m: MsgOf<'put'>): string | null {
    const a = this.byId.get(m.id)!;
    if (!a.sources.has(s)) return `put ${m.id}: artifact ${a.hash.slice(0, 12)} was not offered by you`;
    if (m.size !== a.size || (m.v && m.v.byteLength !== a.size)) return `put ${m.id}: size ${m.size}, but the artifact has ${a.size} bytes`;
    if (m.v ? contentHash(m.v) !== a.hash : m.hash !== a.hash) return `put ${m.id}: other content than artifact ${a.hash.slice(0, 12)}`;
    if (a.asked === s) a.asked = null;
    const o = this.record(a);
    if (o.state === 'ready') {
      if (!m.v) this.dir.addCopy(o, s);
      return null;
    }
    this.dir.setPendingAgain(o);
    this.gcs.stats.artifactUploads++;
    if (m.v) this.dir.setReady(o, { v: m.v, size: m.size, contains: [] });
    else this.dir.setReady(o, { size: m.size, hash: a.hash, location: s, contains: [] });
    return null;
  }

  /** An artifact lost its last copy: ask a source to put it again. False when `o` is not an artifact. */
  lost(o: ObjectRecord, why: string): boolean {
    const a = this.byId.get(o.id);
    if (!a) return false;
    this.dir.setRebuilding(o);
    this.ask(a, o, why);
    return true;
  }

  private ask(a: Artifact, o: ObjectRecord, why: string): void {
    // Drivers first: they declared it; a node's cache is the fallback.
    let pick: Session | undefined;
    for (const s of a.sources) if (!s.closed && (!pick || (s.role === 'driver' && pick.role !== 'driver'))) pick = s;
    if (!pick) {
      a.asked = null;
      if (o.state === 'pending') {
        this.dir.setFailedLost(o, `${why}; no driver or node that has runtime env artifact ${a.hash.slice(0, 12)} is connected`);
      }
      return;
    }
    a.asked = pick;
    pick.send({ t: 'upload', hash: a.hash });
  }

  /** A session closed: it is no source any more; an upload asked of it goes to another source. */
  dropSession(s: Session): void {
    for (const w of this.awaited.values()) w.sessions.delete(s);
    const ids = this.bySession.get(s);
    if (!ids) return;
    this.bySession.delete(s);
    for (const id of ids) {
      const a = this.byId.get(id);
      if (!a) continue;
      a.sources.delete(s);
      const o = this.dir.get(id);
      if (a.asked === s && o?.state === 'pending') this.ask(a, o, `${s.label} disconnected before it put it`);
    }
  }

  /** A job ended: artifacts no running job declares any more are freed (nodes keep their cached copies by hash). */
  jobEnded(job: JobId): void {
    const ids = this.byJob.get(job);
    if (!ids) return;
    this.byJob.delete(job);
    for (const id of ids) {
      const a = this.byId.get(id);
      if (!a || (a.jobs.delete(job), a.jobs.size > 0)) continue;
      this.byId.delete(id);
      for (const s of a.sources) this.bySession.get(s)?.delete(id);
      const o = this.dir.get(id);
      if (o) this.dir.free(o);
    }
  }
}

function index<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let set = m.get(k);
  if (!set) m.set(k, (set = new Set()));
  set.add(v);
}
