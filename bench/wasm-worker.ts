// The baseline of bench:wasm: the same WebAssembly kernel run directly in a
// worker thread of a piscina pool, compiled once per thread, no tabmesh.
import { mandelbrotWasm } from '../shared/examples/mandelbrot.js';

const instance = new WebAssembly.Instance(new WebAssembly.Module(mandelbrotWasm() as Uint8Array<ArrayBuffer>), {});
const tile = instance.exports.tile as (...a: number[]) => number;

export default function run(args: number[]): number {
  return tile(...args);
}
