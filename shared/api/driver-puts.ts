// A driver's puts (issue 17) and its runtime env artifacts (issue 16). A small
// value travels inline; a large one stays with the driver (ownLarge), is ready
// here at once and is served through the relay or a peer link when a node needs
// it; the GCS hears of it once its chunks are hashed, and what the driver sends
// meanwhile waits behind it, in order (hash-gate.ts).
import type { ObjectId } from '../ids.js';
import type { EncodedValue } from '../codec.js';
import type { Msg } from '../protocol/messages.js';
import { recycle } from '../bytes.js';
import type { HashGate } from './hash-gate.js';
import type { HeldObjects } from './held-objects.js';
import type { ObjectClient } from './object-client.js';
import type { ResumeState } from './driver-resume.js';

/** The driver's parts its puts read and write (DriverCore). */
export interface PutsHost {
  /** Large puts of this driver, served on request (ARCHITECTURE: a driver that still has the value can upload it again). */
  readonly ownLarge: Map<ObjectId, Uint8Array>;
  readonly held: HeldObjects;
  readonly objects: ObjectClient;
  readonly resume: ResumeState;
  readonly inlineMax: number;
}

export class DriverPuts {
  /** Artifacts this driver put because the mesh held no copy. */
  artifactUploads = 0;

  constructor(
    private readonly d: PutsHost,
    private readonly gate: HashGate,
    /** To the coordinator, in order (DriverCore.push). */
    private readonly push: (m: Msg) => void,
  ) {}

  put(id: ObjectId, value: EncodedValue): void {
    const size = value.bytes.byteLength;
    if (size <= this.d.inlineMax) {
      this.d.held.put(id, { v: value.bytes, refs: value.refs });
      this.push({ t: 'put', id, v: value.bytes, refs: value.refs, size });
      this.d.objects.setReady(id, { v: value.bytes, size });
      return;
    }
    // Ready here at once; the GCS hears of it once its chunks are hashed (in
    // worker threads on Node), and what this driver sends meanwhile waits
    // behind it, in order (issue 17).
    const meta = { hash: '', refs: value.refs };
    this.d.held.put(id, null);
    this.d.ownLarge.set(id, value.bytes);
    this.d.resume.largeMeta.set(id, meta);
    this.d.objects.setReady(id, { size });
    this.gate.putAfterHash({ t: 'put', id, refs: value.refs, size, hash: '' }, value.bytes, (hash) => (meta.hash = hash));
  }

  offerArtifact(hash: string, bytes: Uint8Array): void {
    if (this.d.resume.artifacts.has(hash)) return;
    this.d.resume.artifacts.set(hash, bytes);
    this.push({ t: 'artifact', arts: [{ hash, size: bytes.byteLength }] });
  }

  /** The mesh holds no copy of an artifact this job declared: put it (its bytes, or a copy served from here). */
  uploadArtifact(hash: string): void {
    const m = this.d.resume.artifactPut(hash, this.d.inlineMax, this.d.ownLarge);
    if (!m) return;
    this.artifactUploads++;
    this.push(m);
  }

  /** The GCS freed these objects: our copies of large puts among them can go. */
  freed(ids: ObjectId[]): void {
    for (const id of ids) {
      const bytes = this.d.ownLarge.get(id);
      // Its memory is reused by a later put unless a view of it got out (issue 17).
      if (bytes && this.d.resume.largeMeta.get(id)?.hash) recycle(bytes);
      this.d.ownLarge.delete(id);
      this.d.resume.largeMeta.delete(id);
    }
  }
}
