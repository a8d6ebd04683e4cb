// What a driver must tell a coordinator again when it resumes its job (after
// a coordinator restart or a switch to another coordinator of the mesh): its
// functions, handles, puts, artifacts and unfinished submissions.
import { artifactObjectId, returnObjectId, type ObjectId } from '../ids.js';
import type { FunctionSource, Msg, TaskSpec } from '../protocol/messages.js';
import type { ObjectClient } from './object-client.js';
import type { HeldObjects } from './held-objects.js';

/** Handles named per resume message (well under the protocol's cap on ids in one message). */
export const RESUME_IDS = 50_000;

export class ResumeState {
  readonly fns = new Map<string, FunctionSource>();
  readonly largeMeta = new Map<ObjectId, { hash: string; refs: ObjectId[] }>();
  /** Runtime env artifacts the job declared, by content hash (issue 16): put only when the coordinator asks. */
  readonly artifacts = new Map<string, Uint8Array>();

  /** `held`: the driver's records of what it holds, with the submissions and small puts to send again. */
  constructor(private readonly held: HeldObjects) {}

  /** The put of artifact `hash` the mesh holds no copy of (its bytes inline, or kept in `ownLarge` to serve); null if it is not this job's. */
  artifactPut(hash: string, inlineMax: number, ownLarge: Map<ObjectId, Uint8Array>): Msg | null {
    const bytes = this.artifacts.get(hash);
    if (!bytes) return null;
    const id = artifactObjectId(hash);
    if (bytes.byteLength <= inlineMax) return { t: 'put', id, v: bytes, size: bytes.byteLength, hash, refs: [] };
    ownLarge.set(id, bytes);
    return { t: 'put', id, size: bytes.byteLength, hash, refs: [] };
  }

  /** The handles that ride in the hello of a resume (the rest follow as borrows). */
  helloHeld(): ObjectId[] {
    return this.held.heldIds(RESUME_IDS);
  }

  /**
   * After a resume: functions, puts, unfinished submissions and subscriptions, again (the coordinator dedups).
   * `groups` sends the task groups with members not ended (driver-groups.ts): after the functions and puts, before
   * the submissions (a materialized member is one, after its group).
   */
  replay(push: (m: Msg) => void, objects: ObjectClient, ownLarge: ReadonlyMap<ObjectId, Uint8Array>, groups?: (push: (m: Msg) => void) => void): void {
    const rest = this.held.heldIds().slice(RESUME_IDS);
    for (let i = 0; i < rest.length; i += RESUME_IDS) push({ t: 'borrow', ids: rest.slice(i, i + RESUME_IDS) });
    for (const f of this.fns.values()) push({ t: 'fn', f });
    for (const [id, p] of this.held.smallPuts()) push({ t: 'put', id, v: p.v, size: p.v.byteLength, refs: p.refs });
    for (const [id, p] of this.largeMeta) {
      const bytes = ownLarge.get(id);
      if (bytes && p.hash) push({ t: 'put', id, size: bytes.byteLength, hash: p.hash, refs: p.refs });
    }
    const arts = [...this.artifacts].map(([hash, b]) => ({ hash, size: b.byteLength }));
    for (let i = 0; i < arts.length; i += 64) push({ t: 'artifact', arts: arts.slice(i, i + 64) });
    groups?.(push);
    for (const spec of this.held.unfinished()) {
      // An actor's constructor or method whose outputs already arrived is not sent again: a coordinator that lost
      // its row (killed before its GCS flush) would run it a second time on the live actor, which must see it once.
      if (spec.actor && outputsArrived(spec, objects)) continue;
      push({ t: 'submit', spec });
    }
    const waiting = objects.waitingIds();
    if (waiting.length) push({ t: 'subscribe', ids: waiting });
  }
}

function outputsArrived(spec: TaskSpec, objects: ObjectClient): boolean {
  for (let i = 0; i < spec.numReturns; i++) if (!objects.known(returnObjectId(spec.taskId, i))) return false;
  return true;
}
