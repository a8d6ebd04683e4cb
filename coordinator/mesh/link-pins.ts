// How long each live peer's link has been down (issue 14, session 23). A link's node id is its coordinator's mesh id
// (nodes/membership.ts), so a task hard-pinned to it waits while that coordinator lives (gcs.nodeExpected): through a
// flap (a few ms, up to the 2 s hello interval). A link that does not come back while its coordinator lives (this side
// refuses its hello: another join token, this coordinator full; or the peer's agent cannot reach us) left such a task
// waiting forever, silently. Now the job's driver is warned (PINNED_NODE_AWAY) once the link has been down for
// `warnMs`, and past `boundMs` the node counts as gone: the pins fail as Ray's hard node affinity does when its node
// is unreachable (NodeLostError), new ones at once, until the link is back. A pin to a coordinator that left the mesh
// fails saying so, and where its URL is now: a coordinator that restarts is a new node with a new id (decisions.md).
import { ERRORS, isErrorCode, type ErrorCode } from '../../shared/error-codes.js';
import type { Gcs, NodeAway } from '../gcs/gcs.js';
import { DEAD_MS } from './registry.js';

/** A hard pin waits this long for a live coordinator's link that is down (TABMESH_MESH_PIN_WAIT_MS): an idle node's silence window. */
export const PIN_WAIT_MS = 30_000;
/** The driver is told after this (or half the bound when shorter): more than two refused hellos, not a flap. */
const WARN_MS = 5000;

/** The bound from the environment (read when a coordinator starts), else PIN_WAIT_MS. */
export function pinWaitFromEnv(env: Record<string, string | undefined> = process.env): number {
  const ms = Math.floor(Number(env.TABMESH_MESH_PIN_WAIT_MS));
  return ms > 0 ? ms : PIN_WAIT_MS;
}

/** Coordinators that left the mesh kept for a pin's error (the last ones). */
const GONE_KEPT = 64;

/** What a pin to a link node waits for, or why it fails; it sets the GCS's hooks (gcs.ts nodeExpected, nodeAway, nodeGone). */
export class LinkPins {
  /** Live peers whose link is down, since when. */
  private readonly since = new Map<string, number>();
  /** The last error a link session of the peer was closed with here (its hello refused, most often). */
  private readonly refused = new Map<string, ErrorCode>();
  /** Coordinators that left the mesh (the last GONE_KEPT), and their URLs. */
  private readonly gone = new Map<string, string>();
  /**
   * Peers whose link joined before our registry listed them, since when. A coordinator that has just started links to
   * the others up to one beat (500 ms) before their reads list it: a hard pin to that link, dropped in that window,
   * failed at once as "not in the mesh". Such a peer lives from its link's join until a beat lists it, or for DEAD_MS
   * (its record, written before it links, is read by then: unlisted, it is gone).
   */
  private readonly fresh = new Map<string, number>();
  private beatAt: number;

  constructor(
    readonly boundMs: number,
    /** Whether another coordinator lives (an agent each, coordinator/mesh/mesh.ts); the live one at a URL. */
    private readonly others: { lives(id: string): boolean; withUrl(url: string): string | undefined },
    private readonly now: () => number = Date.now,
  ) {
    this.beatAt = now();
  }

  /** A link's node id is its coordinator's id (nodes/membership.ts): a pin to it waits while that one lives and its link has not been down past the bound. */
  hook(gcs: Gcs): void {
    gcs.nodeExpected = (node) => this.lives(node) && !this.pastBound(node);
    gcs.nodeAway = (node) => (this.lives(node) ? this.away(node) : undefined);
    gcs.nodeGone = (node) => this.left(node);
  }

  unhook(gcs: Gcs): void {
    gcs.nodeExpected = () => false;
    gcs.nodeAway = () => undefined;
    gcs.nodeGone = () => undefined;
  }

  /** Whether coordinator `id` lives: listed (an agent), or its link joined and no beat has listed it yet (`fresh`). */
  lives(id: string): boolean {
    return this.others.lives(id) || this.fresh.has(id);
  }

  /** Coordinator `id` left the mesh (its URL was `url`). */
  leftMesh(id: string, url: string | undefined): void {
    this.gone.delete(id);
    this.gone.set(id, url ?? '');
    if (this.gone.size > GONE_KEPT) this.gone.delete(this.gone.keys().next().value!);
  }

  /** Why a pin to `node` names no link: the coordinator it stood for left the mesh (and what its URL is now); else undefined. */
  private left(node: string): string | undefined {
    const url = this.gone.get(node);
    if (url === undefined || this.lives(node)) return undefined;
    const now = url ? this.others.withUrl(url) : undefined;
    const where = url ? ` (${url})` : '';
    const back = now ? `; ${url} is coordinator ${now} now` : '';
    return `it stood for coordinator ${node}${where}, which left the mesh: a coordinator that restarts is a new node with a new id, as a restarted raylet is in Ray${back}`;
  }

  get warnMs(): number {
    return Math.min(WARN_MS, this.boundMs / 2);
  }

  /**
   * Every beat: `live` peers, and whether each one's link is up here. Peers not live (nor fresh) are forgotten. True
   * when some link crossed the warning or the bound since the last beat, or a fresh peer was not listed in time: a
   * scheduler pass then warns or fails its pins.
   */
  beat(live: ReadonlySet<string>, linked: (peer: string) => boolean): boolean {
    const t = this.now();
    const prev = t - this.beatAt;
    this.beatAt = t;
    let crossed = false;
    for (const [id, at] of this.fresh) {
      if (live.has(id)) this.fresh.delete(id);
      else if (t - at >= DEAD_MS) {
        this.fresh.delete(id);
        crossed = true; // its pins fail now (not in the mesh)
      }
    }
    for (const id of this.since.keys()) if (!live.has(id) && !this.fresh.has(id)) this.since.delete(id);
    for (const id of this.refused.keys()) if (!live.has(id) && !this.fresh.has(id)) this.refused.delete(id);
    for (const id of [...live, ...this.fresh.keys()]) {
      if (linked(id)) {
        this.since.delete(id);
        this.refused.delete(id);
        continue;
      }
      const since = this.since.get(id);
      if (since === undefined) {
        this.since.set(id, t);
        continue;
      }
      const ms = t - since;
      const before = ms - prev;
      if ((before < this.warnMs && ms >= this.warnMs) || (before < this.boundMs && ms >= this.boundMs)) crossed = true;
    }
    return crossed;
  }

  /**
   * `peer`'s link joined here: it is up from now. A beat alone missed a link that came up and went down again between
   * two beats: the time counted from before it, and a pin made in that window failed at once (a run of case 3 of
   * test/redis/mesh-pin-away: the link up, a task placed and the link down within one beat).
   */
  up(peer: string): void {
    if (!this.others.lives(peer)) this.fresh.set(peer, this.now());
    this.since.delete(peer);
    this.refused.delete(peer);
  }

  /** A link session of `peer` was closed here with error `reason` (the close frame's: a code, maybe a hint after it). */
  closedWith(peer: string, reason: string): void {
    const code = reason.split(' ')[0];
    if (isErrorCode(code)) this.refused.set(peer, code);
  }

  /** How long `peer`'s link has been down, while the peer lives; undefined when it is up (or the peer unknown). */
  away(peer: string): NodeAway | undefined {
    const since = this.since.get(peer);
    if (since === undefined) return undefined;
    const code = this.refused.get(peer);
    const why =
      code === undefined
        ? 'its link has not come back'
        : `its link was refused here: ${code} (${ERRORS[code].text}${code === 'UNAUTHORIZED' ? ': run the coordinators with the same join token' : ''})`;
    return { ms: this.now() - since, warnMs: this.warnMs, boundMs: this.boundMs, why };
  }

  /** Whether `peer`'s link has been down past the bound: a hard pin to it fails. */
  pastBound(peer: string): boolean {
    const since = this.since.get(peer);
    return since !== undefined && this.now() - since >= this.boundMs;
  }
}
