// Actor names (Ray's named actors and namespaces): unique per namespace
// among live actors; a dead actor's name is free again.
import type { JobId, TaskId } from '../../shared/ids.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ActorRecord } from './actor-record.js';

/** A name's key: names are unique within a namespace. */
const nameKey = (namespace: string, name: string) => `${namespace}\u0000${name}`;

export class ActorNames {
  private readonly names = new Map<string, TaskId>();

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

  /** The actor's name is free again (if it still holds it). */
  release(a: Readonly<ActorRecord>): void {
    if (a.name && this.names.get(nameKey(a.namespace, a.name)) === a.id) this.names.delete(nameKey(a.namespace, a.name));
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
}
