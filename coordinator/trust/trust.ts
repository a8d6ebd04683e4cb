// Per-node trust (issue 8). A node earns trust by agreeing with the quorum
// of verified tasks and loses it by lying: a result the quorum rejects, an
// object it claimed and could not serve or served with a wrong hash, a report
// about a task it never held. Past `maxOffences` it is disconnected.
// Trust belongs to a node's session: a node that rejoins starts over as
// `new`, which is why only a streak of agreements makes a node `trusted`.
import type { NodeId } from '../../shared/ids.js';

export interface TrustOptions {
  /** Agreements in a row after which a node is trusted (adaptive verification). Default 10. */
  trustAfter: number;
  /** Probability that a trusted node's result is still checked. Default 0.1. */
  spotCheck: number;
  /** Offences after which a node is disconnected. Default 3. */
  maxOffences: number;
}

export const DEFAULT_TRUST: TrustOptions = { trustAfter: 10, spotCheck: 0.1, maxOffences: 3 };

export type TrustLevel = 'new' | 'trusted' | 'suspect' | 'distrusted';

export interface TrustRecord {
  /** Verified results that agreed with the quorum, in all and in a row. */
  agreed: number;
  streak: number;
  /** Verified results the quorum rejected. */
  disagreed: number;
  offences: number;
  /** The latest offences, most recent last (at most 5). */
  recent: string[];
}

export interface TrustView extends TrustRecord {
  level: TrustLevel;
}

export class TrustTable {
  readonly opts: TrustOptions;
  private readonly nodes = new Map<NodeId, TrustRecord>();

  constructor(
    opts: Partial<TrustOptions>,
    /** Called once a node crosses maxOffences: disconnect it. */
    private readonly onDistrusted: (node: NodeId, why: string) => void,
    private readonly onOffence: (node: NodeId, why: string) => void = () => {},
    private readonly random: () => number = Math.random,
  ) {
    this.opts = { ...DEFAULT_TRUST, ...opts };
  }

  private of(node: NodeId): TrustRecord {
    let r = this.nodes.get(node);
    if (!r) this.nodes.set(node, (r = { agreed: 0, streak: 0, disagreed: 0, offences: 0, recent: [] }));
    return r;
  }

  /** The node's result agreed with the quorum. */
  agreed(node: NodeId): void {
    const r = this.of(node);
    r.agreed++;
    r.streak++;
  }

  /** The node's result disagreed with the quorum: an offence, and its streak starts over. */
  disagreed(node: NodeId, why: string): void {
    const r = this.of(node);
    r.disagreed++;
    r.streak = 0;
    this.offence(node, why);
  }

  /** The node was caught lying. */
  offence(node: NodeId, why: string): void {
    const r = this.of(node);
    r.offences++;
    r.streak = 0;
    r.recent.push(why.slice(0, 300));
    if (r.recent.length > 5) r.recent.shift();
    this.onOffence(node, why);
    if (r.offences === this.opts.maxOffences) this.onDistrusted(node, why);
  }

  level(node: NodeId): TrustLevel {
    const r = this.nodes.get(node);
    if (!r) return 'new';
    if (r.offences >= this.opts.maxOffences) return 'distrusted';
    if (r.offences > 0 && r.streak < this.opts.trustAfter) return 'suspect';
    return r.streak >= this.opts.trustAfter ? 'trusted' : 'new';
  }

  /** Whether a trusted node's result may go unchecked this time (BOINC's adaptive replication). */
  skipCheck(node: NodeId): boolean {
    return this.level(node) === 'trusted' && this.random() >= this.opts.spotCheck;
  }

  view(node: NodeId): TrustView {
    const r = this.nodes.get(node) ?? { agreed: 0, streak: 0, disagreed: 0, offences: 0, recent: [] };
    return { ...r, recent: [...r.recent], level: this.level(node) };
  }

  /** The node left: its record goes (a node that rejoins is new). */
  forget(node: NodeId): void {
    this.nodes.delete(node);
  }
}
