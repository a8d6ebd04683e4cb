// A submitted job's return value as the JSON its record keeps (issue 11):
// what JSON cannot say (Maps, Sets, BigInts, typed arrays, Errors) is made
// readable, and a large result is cut.
import { types } from 'node:util';

export const MAX_RESULT_CHARS = 64 * 1024;

/** JSON for the result: Maps, Sets, BigInts and typed arrays made readable, Errors as their name and message, cut at 64 KiB. */
export function resultJson(v: unknown): string {
  const json =
    JSON.stringify(v === undefined ? null : v, (_k, x: unknown) => {
      if (typeof x === 'bigint') return x.toString();
      if (x instanceof Map) return Object.fromEntries(x as Map<string, unknown>);
      if (x instanceof Set) return [...(x as Set<unknown>)];
      if (ArrayBuffer.isView(x) && !(x instanceof DataView)) return Array.from(x as unknown as ArrayLike<number>).slice(0, 10_000);
      // The program's realm has its own Error (see worker.ts): `instanceof Error` misses its errors, whose own keys are none ({}).
      if (types.isNativeError(x)) return { name: String(x.name), message: String(x.message) };
      return x;
    }) ?? 'null';
  return json.length > MAX_RESULT_CHARS ? JSON.stringify({ truncated: true, preview: json.slice(0, MAX_RESULT_CHARS) }) : json;
}
