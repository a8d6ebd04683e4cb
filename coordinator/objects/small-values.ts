// Tiny inline values shared (issue 14): most tasks return undefined, null, a
// small number or a short string, a few bytes each. Kept as the decoder hands
// them out, each was its own Buffer view (96 B) that also kept the whole frame
// it arrived in alive. Values are immutable once on record, so records with
// the same bytes may share one copy of their own.

/** Values of at most this many bytes are shared: the length and bytes make a key below 2^53. */
const MAX_SHARED_BYTES = 6;
/** Distinct tiny values kept; past this the table starts over (a hostile node cannot grow it). */
const MAX_ENTRIES = 4096;

const shared = new Map<number, Uint8Array>();

/** `v`, or the shared copy of the same bytes when `v` is tiny. */
export function sharedValue(v: Uint8Array): Uint8Array {
  const n = v.byteLength;
  if (n > MAX_SHARED_BYTES) return v;
  let key = n;
  for (let i = 0; i < n; i++) key = key * 256 + v[i];
  let own = shared.get(key);
  if (!own) {
    if (shared.size >= MAX_ENTRIES) shared.clear();
    shared.set(key, (own = new Uint8Array(v)));
  }
  return own;
}
