// The value codec's round trip and a throw caught, for the codec's tests (test/unit/codec*.test.ts).
import { decodeValue, encodeValue } from '../../shared/codec.js';

/** `v` encoded and decoded again. */
export function roundTrip<T>(v: T): T {
  return decodeValue(encodeValue(v).bytes) as T;
}

/** Catches what `fn` throws (fails the test when nothing is thrown). */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}
