// Where a full coordinator sends a node it refuses (issue 14): the live coordinator of the mesh with the most room by
// its last record, less the nodes sent there since that record (whose room does not count them yet).
import { coordinatorKey } from '../../shared/coordinator-urls.js';
import type { CoordinatorInfo } from './registry.js';

export class SendOn {
  /** Nodes sent on to each coordinator since its last record. */
  private readonly sentSince = new Map<string, { beat: number; n: number }>();

  /** `url`: ours (never named). */
  constructor(private readonly url: string) {}

  /** The URL to send a refused node to, among the live `others`; undefined when none has room. */
  pick(others: readonly CoordinatorInfo[]): string | undefined {
    let best: CoordinatorInfo | undefined;
    let bestRoom = 0;
    for (const o of others) {
      // A record is another process's word: a room that is a number, a URL that is a coordinator's, not ours.
      if (typeof o.room !== 'number' || !(o.room > 0) || o.url === this.url || coordinatorKey(o.url) === undefined) continue;
      const sent = this.sentSince.get(o.id);
      const room = o.room - (sent?.beat === o.beat ? sent.n : 0);
      if (room > bestRoom) {
        best = o;
        bestRoom = room;
      }
    }
    if (!best) return undefined;
    const sent = this.sentSince.get(best.id);
    if (sent?.beat === best.beat) sent.n++;
    else this.sentSince.set(best.id, { beat: best.beat, n: 1 });
    return best.url;
  }

  /** Forgets the coordinators not in `live`. */
  keep(live: ReadonlySet<string>): void {
    for (const id of this.sentSince.keys()) if (!live.has(id)) this.sentSince.delete(id);
  }
}
