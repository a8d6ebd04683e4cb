// The piscina baseline for actors: a stateful counter in one worker thread.
let n = 0;
export default function inc(): number {
  return ++n;
}
