// A task running in an executor (its counters, its cancellation) and a live
// actor (its instance and its calls in arrival order).
import type { Mesh } from '../api/mesh.js';
import type { RunTask } from './protocol.js';
import type { TaskConsole } from './task-code.js';

export class RunningTask {
  cancelled = false;
  submitIndex = 0;
  putIndex = 0;
  constructor(readonly t: RunTask) {}
}

/** A live actor in this executor: its instance, and its calls in arrival order. */
export interface LiveActor {
  id: string;
  instance: Record<string, unknown>;
  /** The creation task's mesh: calls submit and put under the actor's id. */
  mesh: Mesh;
  console: TaskConsole;
  queue: RunTask[];
  running: number;
  maxConcurrency: number;
  /** Calls since the last checkpoint, and how many between checkpoints (0: never). */
  sinceCheckpoint: number;
  checkpointEvery: number;
}
