// Actors outlive their node's session (issue 15): when the connection to the
// coordinator drops and the process stays, the actors it hosts keep their
// executors (and so their state) for the next session, which says so in its
// hello; the coordinator that takes their job over attaches them again. The
// key proves that the next session is the same process: the GCS stores its
// hash with each actor this process hosts.
import { randomHex } from '../ids.js';
import type { LocalTask } from './executors.js';

export class ActorKeep {
  /** This process's secret as an actor host (sent to coordinators only). */
  readonly key = randomHex(16);
  /** The host tasks of the actors handed from one session to the next. */
  actors: LocalTask[] = [];

  /** The process leaves for good: the kept actors' executors go. */
  drop(): void {
    for (const h of this.actors.splice(0)) {
      try {
        h.executor?.handle.terminate();
      } catch {
        /* already gone */
      }
      h.executor?.leases.close();
    }
  }
}
