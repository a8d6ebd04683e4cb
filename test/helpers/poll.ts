// The one polling helper of the tests: ask until the answer is truthy, or fail
// naming what was awaited.

export interface PollOptions {
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  /** Ask again after this long. Default 50 ms. */
  everyMs?: number;
  /** What is awaited, for the error (a function, to describe the last state). */
  what?: string | (() => string);
}

/** Resolves with the first truthy answer of `f`; rejects with "timed out waiting for …" after timeoutMs. */
export async function until<T>(
  f: () => T | undefined | null | false | 0 | '' | Promise<T | undefined | null | false | 0 | ''>,
  o: PollOptions = {},
): Promise<T> {
  const end = Date.now() + (o.timeoutMs ?? 10_000);
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) {
      const what = typeof o.what === 'function' ? o.what() : (o.what ?? 'a condition');
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(o.everyMs ?? 50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether process `pid` still exists (signal 0: nothing is sent), e.g. `until(() => !alive(pid))` after a kill. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
