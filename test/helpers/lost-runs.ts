// How many task runs a coordinator takes for lost (a run on a node declared lost): what the hold tests count to be 0.
import type { Coordinator } from '../../coordinator/coordinator.js';

/** From now on, counts `c`'s lost runs (its ends still handle each): the count so far. */
export function countLostRuns(c: Coordinator): () => number {
  let runs = 0;
  const lost = c.ends.lost.bind(c.ends);
  c.ends.lost = (t, node, spared) => {
    runs++;
    lost(t, node, spared);
  };
  return () => runs;
}
