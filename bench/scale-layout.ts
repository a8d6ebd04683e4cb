// How many coordinators each size of bench:scale runs on, and whether its nodes
// spread over them (issue 14, session 24). One coordinator holds at most its
// open-file limit less a reserve (coordinator/limits): 19,728 nodes under this
// VM's hard limit of 20,000, which no process here may raise. A size past that
// runs on as many coordinators of one mesh as it needs, its nodes spread over
// them, unless SCALE_COORDINATORS / SCALE_SPREAD say otherwise.
import { DRIVER_ROOM } from '../coordinator/limits/limits.js';
import { openFileLimit, sessionBudget } from '../coordinator/limits/open-files.js';

/** The most coordinators one run starts (each a process, with a Redis shared between them). */
export const MAX_COORDINATORS = 8;

export interface Layout {
  coordinators: number;
  /** The nodes spread over the coordinators; false: every node lists them in one order and the first fills. */
  spread: boolean;
  /** Node processes the size's nodes are spread over (SCALE_NODE_PROCESSES); unset: SCALE_NODES_PER_PROCESS's share. */
  processes?: number;
}

/**
 * Nodes one coordinator takes under an open-file limit (undefined: unlimited): the limit less the coordinator's
 * reserve and the room it keeps for drivers, as coordinator/limits/limits.ts nodeMayJoin counts it.
 */
export function nodesPerCoordinator(limit: number | undefined): number {
  const sessions = sessionBudget(limit);
  return Math.max(1, sessions - Math.min(DRIVER_ROOM, Math.floor(sessions / 8)));
}

/**
 * The layout of each size. `coordinatorsEnv` (SCALE_COORDINATORS): one count per size, or one count for every
 * size after the first (the first, the baseline of the ratios, stays one coordinator); unset, each size takes the
 * fewest coordinators that hold its nodes. `spreadEnv` (SCALE_SPREAD): 0 or 1 for every size, or one per size;
 * unset, a size spreads when it was given more than one coordinator by its node count, not by SCALE_COORDINATORS.
 */
export function layouts(
  sizes: number[],
  coordinatorsEnv: string | undefined,
  spreadEnv: string | undefined,
  perCoordinator: number,
  processesEnv?: string,
): Layout[] {
  if (sizes.some((n) => !(Number.isInteger(n) && n >= 1))) throw new Error('SCALE_NODES: whole numbers of nodes, at least 1');
  const ks = coordinatorsEnv === undefined || coordinatorsEnv === '' ? null : coordinatorsEnv.split(',').map(Number);
  if (ks?.some((k) => !(Number.isInteger(k) && k >= 1 && k <= MAX_COORDINATORS)))
    throw new Error(`SCALE_COORDINATORS: whole numbers from 1 to ${MAX_COORDINATORS}`);
  const spreads = spreadEnv === undefined || spreadEnv === '' ? null : spreadEnv.split(',');
  if (spreads?.some((x) => x !== '0' && x !== '1')) throw new Error('SCALE_SPREAD: 0 or 1, or one of them per size');
  if (ks && ks.length > 1 && ks.length !== sizes.length) throw new Error('SCALE_COORDINATORS: one count, or one per size of SCALE_NODES');
  if (spreads && spreads.length > 1 && spreads.length !== sizes.length) throw new Error('SCALE_SPREAD: one value, or one per size of SCALE_NODES');
  const ps = processesEnv === undefined || processesEnv === '' ? null : processesEnv.split(',').map(Number);
  if (ps?.some((k) => !(Number.isInteger(k) && k >= 1))) throw new Error('SCALE_NODE_PROCESSES: whole numbers of processes, at least 1');
  if (ps && ps.length > 1 && ps.length !== sizes.length) throw new Error('SCALE_NODE_PROCESSES: one count, or one per size of SCALE_NODES');
  return sizes.map((n, i) => {
    const needed = Math.max(1, Math.ceil(n / perCoordinator));
    if (needed > MAX_COORDINATORS) throw new Error(`${n} nodes need ${needed} coordinators of ${perCoordinator} nodes: at most ${MAX_COORDINATORS}`);
    const coordinators = ks ? (ks.length > 1 ? ks[i] : i === 0 ? 1 : ks[0]) : needed;
    const spread = spreads ? (spreads.length > 1 ? spreads[i] : spreads[0]) === '1' : !ks && coordinators > 1;
    const processes = ps ? Math.min(n, ps.length > 1 ? ps[i] : ps[0]) : undefined;
    return processes === undefined ? { coordinators, spread } : { coordinators, spread, processes };
  });
}

/** The layouts of this run from its environment and this process's open-file limit (child processes inherit it). */
export function layoutsFromEnv(sizes: number[]): Layout[] {
  return layouts(sizes, process.env.SCALE_COORDINATORS, process.env.SCALE_SPREAD, nodesPerCoordinator(openFileLimit()), process.env.SCALE_NODE_PROCESSES);
}
