// The parameter-server workload (issues 5 and 17), one definition for the
// actors test (its result equals the same arithmetic in one process) and
// bench:objects (its round times on tabs against edge nodes): an actor holds
// 1 MiB of weights; each round WORKERS tasks pull them and compute a
// gradient, and the driver pushes the gradients back to the actor.
import type { Mesh } from '../api/mesh.js';

/** 1 MiB of Float64. */
export const PS_DIM = 131_072;
export const PS_WORKERS = 8;

export class ParameterServer {
  w: Float64Array;
  constructor(dim: number) {
    this.w = new Float64Array(dim);
  }
  pull(): Float64Array {
    return this.w;
  }
  push(grads: Float64Array[]): number {
    for (const g of grads) for (let i = 0; i < g.length; i++) this.w[i] -= 0.01 * g[i];
    return this.w[0];
  }
}

/**
 * Worker `worker`'s gradient in round `round` (shipped as a task: reads nothing outside). `work` computes it that
 * many times (the same result), for a gradient whose run time matters beside moving the weights (bench, issue 17).
 */
export function gradient(w: Float64Array, worker: number, round: number, work = 1): Float64Array {
  const g = new Float64Array(w.length);
  for (let k = 0; k < work; k++) for (let i = 0; i < w.length; i++) g[i] = w[i] * 0.5 + ((worker + 1) * (round + 1) * ((i % 7) - 3)) / 100;
  return g;
}

/** Runs `rounds` rounds on `mesh` (each gradient computed `work` times); the time of each round (ms) and the final weights. */
export async function runParamServer(mesh: Mesh, rounds: number, dim = PS_DIM, work = 1): Promise<{ roundMs: number[]; final: Float64Array }> {
  const grad = mesh.remote(gradient);
  const ps = mesh.remote(ParameterServer).remote(dim);
  const roundMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const w = ps.pull.remote();
    const grads = Array.from({ length: PS_WORKERS }, (_, k) => grad.remote(w, k, r, work));
    await mesh.get(ps.push.remote(await mesh.get(grads)));
    roundMs.push(performance.now() - t);
  }
  return { roundMs, final: await mesh.get(ps.pull.remote()) };
}

/** The same arithmetic in this process: what runParamServer's final weights must equal. */
export function paramServerLocal(rounds: number, dim = PS_DIM): Float64Array {
  const ps = new ParameterServer(dim);
  for (let r = 0; r < rounds; r++) ps.push(Array.from({ length: PS_WORKERS }, (_, k) => gradient(ps.pull(), k, r)));
  return ps.w;
}
