// The piscina baseline's task: an empty function, the counterpart of the
// empty remote function the tabmesh benchmarks submit.
export default function noop(): void {}
