// A driver's questions to the coordinator, matched to their answers by
// number: a named actor's id (getActor), and cluster info (nodes, named actors).
import { TabmeshError } from '../errors.js';
import type { Msg, MsgOf } from '../protocol/messages.js';
import type { ClusterInfo } from './core.js';

export class DriverQuestions {
  private readonly lookups = new Map<number, { resolve: (v: { id: string; className: string }) => void; reject: (e: Error) => void }>();
  private readonly asks = new Map<number, (m: MsgOf<'info'>) => void>();
  private next = 1;

  constructor(private readonly push: (m: Msg) => void) {}

  getActor(name: string, ns?: string): Promise<{ id: string; className: string }> {
    const x = this.next++;
    return new Promise((resolve, reject) => {
      this.lookups.set(x, { resolve, reject });
      this.push({ t: 'getActor', name, x, ns });
    });
  }

  ask(q: MsgOf<'ask'>['q'], o: { ns?: string; all?: boolean } = {}): Promise<ClusterInfo> {
    const x = this.next++;
    return new Promise((resolve) => {
      this.asks.set(x, resolve);
      this.push({ t: 'ask', x, q, ns: o.ns, all: o.all });
    });
  }

  onInfo(m: MsgOf<'info'>): void {
    const f = this.asks.get(m.x);
    this.asks.delete(m.x);
    f?.(m);
  }

  onActorInfo(m: MsgOf<'actorInfo'>): void {
    const p = this.lookups.get(m.x);
    if (!p) return;
    this.lookups.delete(m.x);
    if (m.id && m.className) p.resolve({ id: m.id, className: m.className });
    else p.reject(new TabmeshError('ACTOR_DIED', m.error ?? 'no such actor'));
  }

  /** The connection dropped: lookups under way fail (a resumed job asks again). */
  failLookups(err: Error): void {
    for (const p of this.lookups.values()) p.reject(err);
    this.lookups.clear();
  }
}
