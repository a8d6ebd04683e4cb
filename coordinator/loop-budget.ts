// One budget for the work of an event-loop iteration (issue 14: no stall over
// 50 ms). The coordinator's bounded parts (the input slice of the poll phase
// and the drain of waiting frames, the scheduler's passes, the outboxes'
// flush turns) were each bounded alone: 10 + 10 + 8 + 8 ms could run in one
// iteration, ~36 ms with their overshoots. Each part now also stops at the
// iteration's end (LOOP_MS after the first part began), but gets LOOP_FLOOR_MS
// whatever is left, so that every part makes progress in every iteration.
// A part shared by several callers (the input slice) is a LoopPart, reset at
// the same boundary: one 0 ms timer an iteration.
// The loop is the process's: the budget is one per process (a process may
// hold several coordinators, in tests and meshes), not one per coordinator.

/** The work of one event-loop iteration, all bounded parts together (ms). */
export const LOOP_MS = 20;
/** What a part gets once the iteration's budget is spent (ms). */
export const LOOP_FLOOR_MS = 2;

/** The bounded parts of an iteration. */
export type LoopPartName = 'input' | 'pass' | 'flush';
const PART_NAMES = ['input', 'pass', 'flush'] as const;
/** An iteration longer than this (from its first part to its boundary) is counted as long, with its time by part. */
export const LONG_ITERATION_MS = 50;

export class LoopBudget {
  private end = 0;
  private armed = false;
  /** Iterations with a budget, and parts held to their floor because the iteration's budget was spent (for /api/stats and tests). */
  iterations = 0;
  floored = 0;
  /**
   * Iterations over LONG_ITERATION_MS, the longest (ms), and the time of those iterations by part: from a
   * part's start to the next part's start (the last part's, to the boundary), so whatever runs between two
   * parts (socket reads, GC, timers) counts with the one before (for bench:scale: where a long iteration went).
   */
  long = 0;
  longest = 0;
  readonly longByPart: Record<LoopPartName, number> = { input: 0, pass: 0, flush: 0 };
  private start = 0;
  private lastAt = 0;
  private lastPart: LoopPartName = 'pass';
  private readonly spent: Record<LoopPartName, number> = { input: 0, pass: 0, flush: 0 };

  constructor(
    readonly ms = LOOP_MS,
    readonly floor = LOOP_FLOOR_MS,
    /**
     * Runs `fn` at the start of the next iteration: a 0 ms timer fires in the next timers phase, after this
     * iteration's poll and check phases (setImmediate would run within this iteration's check phase).
     */
    private readonly later: (fn: () => void) => void = (fn) => void setTimeout(fn, 0).unref(),
  ) {}

  /** The deadline (performance.now() time) of a part that may work `ms` alone: never past this iteration's end, but `floor` from now at least. */
  until(ms: number, now = performance.now(), part: LoopPartName = 'pass'): number {
    if (!this.armed) {
      this.armed = true;
      this.iterations++;
      this.end = now + this.ms;
      this.later(this.reset);
      this.start = now;
      for (const k of PART_NAMES) this.spent[k] = 0;
    } else this.spent[this.lastPart] += now - this.lastAt;
    this.lastAt = now;
    this.lastPart = part;
    if (this.end - now < this.floor && ms > this.floor) this.floored++;
    return Math.min(now + ms, Math.max(this.end, now + this.floor));
  }

  /** This iteration's end, or Infinity when no part has begun in it. */
  get iterationEnd(): number {
    return this.armed ? this.end : Infinity;
  }

  /** Whether a part has begun in this iteration (its number is then `iterations`). */
  get inIteration(): boolean {
    return this.armed;
  }

  private readonly reset = (): void => {
    this.armed = false;
    const now = performance.now();
    this.spent[this.lastPart] += now - this.lastAt;
    const length = now - this.start;
    if (length > this.longest) this.longest = length;
    if (length <= LONG_ITERATION_MS) return;
    this.long++;
    for (const k of PART_NAMES) this.longByPart[k] += this.spent[k];
  };
}

/**
 * A part with a bound of its own per iteration that several callers share
 * (the input slice: frames read in the poll phase and the drain of waiting
 * frames in the check phase). Its bound is counted from its first use in an
 * iteration and ends with the iteration: the loop budget's boundary resets it,
 * so that an iteration has one boundary timer, not one per part.
 */
export class LoopPart {
  private end = 0;
  /** The loop iteration whose bound `end` is. */
  private iteration = -1;

  constructor(
    readonly ms: number,
    private readonly loop: LoopBudget = loopBudget,
    private readonly name: LoopPartName = 'input',
  ) {}

  /** This iteration's deadline for the part (performance.now() time): its own bound, the iteration's end, or its floor. */
  deadline(): number {
    const now = performance.now();
    const until = this.loop.until(this.ms, now, this.name);
    if (this.iteration !== this.loop.iterations) {
      this.iteration = this.loop.iterations;
      this.end = now + this.ms;
      return until;
    }
    return Math.min(this.end, this.loop.until(this.end - now, now, this.name));
  }

  /** Whether the part's bound in this iteration is used up (its own, or the iteration's budget past the floor). */
  spent(): boolean {
    if (!this.loop.inIteration || this.iteration !== this.loop.iterations) return false;
    const now = performance.now();
    return now > this.end || now > this.loop.iterationEnd + this.loop.floor;
  }
}

/** The process's loop budget. */
export const loopBudget = new LoopBudget();
