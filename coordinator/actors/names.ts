// Actor names (Ray's named actors and namespaces): unique per namespace
// among live actors; a dead actor's name is free again. In a mesh of
// coordinators (session 38) a name is unique mesh-wide: after this table lets
// a claim through, the mesh's table in Redis (coordinator/mesh/actor-names.ts)
// decides, and a creation waits for its answer before it is placed.
import type { JobId, TaskId } from '../../shared/ids.js';
import { MAX_IDS } from '../../shared/protocol/fields.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ActorRecord } from './actor-record.js';

/** At most this many names in one answer (the protocol's bound on a list: shared/protocol/fields.ts MAX_IDS). */
const MAX_LISTED = MAX_IDS;

/** A name's key: names are unique within a namespace (here and as a field of the mesh's table, coordinator/mesh/actor-names.ts). */
export const nameKey = (namespace: string, name: string) => `${namespace}\u0000${name}`;

/** Where a name is held mesh-wide, when another coordinator holds it. */
export interface NameElsewhere {
  coordinator: string;
  /** The holder's URL, when it is live. */
  url: string | undefined;
}

/** The mesh's name table (coordinator/mesh/actor-names.ts), as this table uses it. */
export interface MeshNameRegistry {
  /** Takes the name for actor `id` mesh-wide; null when ours, else who holds it. */
  claim(namespace: string, name: string, id: TaskId): Promise<NameElsewhere | null>;
  release(namespace: string, name: string, id: TaskId): Promise<void>;
  /** A live other coordinator holding the name, if one does. */
  find(namespace: string, name: string): Promise<NameElsewhere | undefined>;
  /** Names held by live other coordinators, in one namespace or (null) in all. */
  named(namespace: string | null): Promise<{ name: string; namespace: string }[]>;
}

/** How a mesh-wide claim ended. */
export type ClaimOutcome = { ours: true } | { taken: NameElsewhere } | { error: string };

export class ActorNames {
  private readonly names = new Map<string, TaskId>();
  /** The mesh's table, while this coordinator is part of one. */
  remote: MeshNameRegistry | null = null;
  /** Mesh-wide claims under way; `gated`: the creation waits for it (task-submit.ts). */
  private readonly claiming = new Map<TaskId, { gated: boolean }>();

  constructor(
    private readonly gcs: Gcs,
    private readonly actor: (id: TaskId) => Readonly<ActorRecord> | undefined,
  ) {}

  /** Takes `name` in `namespace` for actor `id`; false when a live actor has it. */
  claim(namespace: string, name: string, id: TaskId): boolean {
    const key = nameKey(namespace, name);
    const holder = this.names.get(key);
    if (holder && this.actor(holder)?.state !== 'dead') return false;
    this.names.set(key, id);
    return true;
  }

  /**
   * A name taken here is claimed mesh-wide too; `settled` hears how, and whether its creation waited for it.
   * Without a mesh nothing happens.
   */
  claimAcross(a: Readonly<ActorRecord>, settled: (a: Readonly<ActorRecord>, outcome: ClaimOutcome, gated: boolean) => void): void {
    const remote = this.remote;
    if (!a.name || !remote) return;
    const entry = { gated: false };
    this.claiming.set(a.id, entry);
    const done = (outcome: ClaimOutcome) => {
      this.claiming.delete(a.id);
      // The mesh closed meanwhile (its coordinator is closing): nothing more is written.
      if (this.remote === remote) settled(a, outcome, entry.gated);
    };
    remote.claim(a.namespace, a.name, a.id).then(
      (holder) => done(holder ? { taken: holder } : { ours: true }),
      (e: Error) => done({ error: e.message }),
    );
  }

  /** Whether actor `id`'s creation must wait for its mesh-wide claim (it then does: the claim opens or fails it). */
  gate(id: TaskId): boolean {
    const entry = this.claiming.get(id);
    if (entry) entry.gated = true;
    return !!entry;
  }

  /** The actor's name is free again (if it still holds it), here and mesh-wide. */
  release(a: Readonly<ActorRecord>): void {
    if (!a.name) return;
    if (this.names.get(nameKey(a.namespace, a.name)) === a.id) this.names.delete(nameKey(a.namespace, a.name));
    // Only our claim for this actor goes (a compare-and-delete); sent after the claim on one connection, so in order.
    const remote = this.remote;
    remote?.release(a.namespace, a.name, a.id).catch((e: Error) => {
      if (this.remote !== remote) return; // closing: the GCS may be closed already
      this.gcs.event('actor-name-release-failed', `the name '${a.name}' of actor ${a.id.slice(0, 12)} stays claimed in the mesh: ${e.message}`);
    });
  }

  /** A job's namespace for actor names ('' when its driver named none). */
  namespaceOf(job: JobId | undefined): string {
    return (job && this.gcs.jobs.get(job)?.namespace) || '';
  }

  lookup(name: string, namespace: string): Readonly<ActorRecord> | undefined {
    const id = this.names.get(nameKey(namespace, name));
    const a = id ? this.actor(id) : undefined;
    return a && a.state !== 'dead' ? a : undefined;
  }

  /** Live named actors, in one namespace or (null) in all (Ray's list_named_actors). */
  named(namespace: string | null): { name: string; namespace: string }[] {
    const out: { name: string; namespace: string }[] = [];
    for (const id of this.names.values()) {
      const a = this.actor(id);
      if (a?.name && a.state !== 'dead' && (namespace === null || a.namespace === namespace)) out.push({ name: a.name, namespace: a.namespace });
    }
    return out;
  }

  /** Named actors mesh-wide: ours, then those of the live other coordinators (ours only, without a mesh). */
  async namedAcross(namespace: string | null): Promise<{ name: string; namespace: string }[]> {
    const mine = this.named(namespace);
    if (!this.remote) return mine;
    const seen = new Set(mine.map((n) => nameKey(n.namespace, n.name)));
    for (const n of await this.remote.named(namespace)) {
      // Another process's word: what the protocol's `info` could not carry is left out (names are at most 256 long).
      if (mine.length >= MAX_LISTED) break;
      if (n.name.length <= 256 && n.namespace.length <= 256 && !seen.has(nameKey(n.namespace, n.name))) mine.push(n);
    }
    return mine;
  }
}
