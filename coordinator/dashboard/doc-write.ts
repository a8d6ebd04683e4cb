// Writing the live document sparingly: a key is set only when its value changed.
import type * as Y from 'yjs';

export type Plain = Record<string, unknown>;

/** Whether `a` has every field of `b` with the same value (flat views). */
export function same(a: Plain | undefined, b: Plain): boolean {
  if (!a) return false;
  for (const k in b) if (a[k] !== b[k]) return false;
  return true;
}

export function setIfChanged<V extends object>(map: Y.Map<V>, key: string, v: V): void {
  if (!same(map.get(key) as Plain | undefined, v as unknown as Plain)) map.set(key, v);
}
