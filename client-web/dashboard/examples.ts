// Example workloads for the editor. Each is the body of an async function
// with `mesh` in scope; what it returns is the job's result.
import { mandelbrotWasm } from '../../shared/examples/mandelbrot.js';

export interface Example {
  id: string;
  title: string;
  description: string;
  source: string;
  /** npm packages the job's tasks may mesh.import (issue 16), resolved in the coordinator's folder. */
  packages?: string[];
}

/** The Mandelbrot kernel's bytes as a literal for the example's source (assembled by shared/examples/mandelbrot.ts). */
const KERNEL = Array.from(mandelbrotWasm()).join(',');

export const EXAMPLES: Example[] = [
  {
    id: 'pi',
    title: 'Monte Carlo π',
    description: '16 tasks throw 200,000 darts each at the unit square; the share inside the quarter circle gives π.',
    source: `// Monte Carlo π: each task throws darts with its own seeded generator.
const throwDarts = mesh.remote(function throwDarts(n, seed) {
  let x = seed >>> 0;
  const random = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 4294967296;
  let inside = 0;
  for (let i = 0; i < n; i++) {
    const a = random(), b = random();
    if (a * a + b * b <= 1) inside++;
  }
  return inside;
});

const batches = 16, perBatch = 200_000;
const refs = Array.from({ length: batches }, (_, i) => throwDarts.remote(perBatch, 7919 * (i + 1)));
const inside = (await mesh.get(refs)).reduce((a, b) => a + b, 0);
const pi = (4 * inside) / (batches * perBatch);
console.log(\`\${batches * perBatch} darts, \${inside} inside: π ≈ \${pi}\`);
return { pi: Number(pi.toFixed(4)), darts: batches * perBatch };
`,
  },
  {
    id: 'wordcount',
    title: 'MapReduce word count',
    description: 'Map tasks count the words of their chunk; reduce tasks merge the counts pairwise.',
    source: `// MapReduce word count: map per chunk, then reduce the partial counts pairwise.
const text = [
  'the quick brown fox jumps over the lazy dog',
  'the dog sleeps and the fox runs',
  'a mesh of tabs counts the words of the text',
].join(' ');
const chunks = Array.from({ length: 12 }, () => text);

const map = mesh.remote(function map(chunk) {
  const counts = {};
  for (const w of chunk.toLowerCase().split(/\\W+/).filter(Boolean)) counts[w] = (counts[w] ?? 0) + 1;
  return counts;
});
const reduce = mesh.remote(function reduce(a, b) {
  const out = { ...a };
  for (const [w, n] of Object.entries(b)) out[w] = (out[w] ?? 0) + n;
  return out;
});

let level = chunks.map((c) => map.remote(c));
while (level.length > 1) {
  const next = [];
  for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? reduce.remote(level[i], level[i + 1]) : level[i]);
  level = next;
}
const counts = await mesh.get(level[0]);
const top = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5);
console.log('top words:', top.map(([w, n]) => \`\${w}=\${n}\`).join(', '));
return { words: Object.values(counts).reduce((a, b) => a + b, 0), top };
`,
  },
  {
    id: 'tree',
    title: 'Tree reduction',
    description: 'Sums 1..4096: 64 leaf tasks sum a block each, then a binary tree of add tasks combines them.',
    source: `// Tree reduction: leaves sum a block each; adds combine pairs until one is left.
const sumBlock = mesh.remote(function sumBlock(from, to) {
  let s = 0;
  for (let i = from; i <= to; i++) s += i;
  return s;
});
const add = mesh.remote(function add(a, b) { return a + b; });

const n = 4096, blocks = 64, size = n / blocks;
let level = Array.from({ length: blocks }, (_, i) => sumBlock.remote(i * size + 1, (i + 1) * size));
while (level.length > 1) {
  const next = [];
  for (let i = 0; i < level.length; i += 2) next.push(add.remote(level[i], level[i + 1]));
  level = next;
}
const sum = await mesh.get(level[0]);
console.log(\`sum of 1..\${n} = \${sum} (expected \${(n * (n + 1)) / 2})\`);
return { sum };
`,
  },
  {
    id: 'paramserver',
    title: 'Parameter server (actor)',
    description: 'An actor holds the weights; 4 worker tasks per round pull them, compute a gradient and push it.',
    source: `// Parameter server: an actor holds the weights (actors: issue 5).
class ParameterServer {
  constructor(n) { this.w = new Float64Array(n); this.version = 0; }
  get() { return this.w; }
  push(g) {
    for (let i = 0; i < g.length; i++) this.w[i] -= 0.1 * g[i];
    return ++this.version;
  }
}
// The gradient of |w - target|² / 2.
const gradient = mesh.remote(function gradient(w, target) {
  return Float64Array.from(w, (x, i) => x - target[i]);
});

const target = [1, 2, 3, 4];
const ps = mesh.remote(ParameterServer).remote(target.length);
for (let round = 0; round < 20; round++) {
  const w = ps.get.remote();
  const grads = Array.from({ length: 4 }, () => gradient.remote(w, target));
  await mesh.get(grads.map((g) => ps.push.remote(g)));
}
const w = Array.from(await mesh.get(ps.get.remote()), (x) => Math.round(x * 100) / 100);
console.log('weights:', w.join(', '));
return { weights: w };
`,
  },
  {
    id: 'wasm',
    title: 'WASM Mandelbrot tiles',
    description: 'A WebAssembly kernel declared in runtimeEnv: each node fetches it once, each executor compiles it once; 64 tiles run as tasks.',
    source: `// A WebAssembly kernel as a runtime env (issue 16). Its bytes are assembled by the project
// (shared/examples/mandelbrot.ts); its export tile(x0, y0, dx, dy, w, h, maxIter) sums iteration counts.
const kernel = new Uint8Array([${KERNEL}]);
const tile = mesh.remote(async function tile(i, tiles, size, maxIter) {
  const module = await mesh.wasm('mandelbrot'); // compiled once per executor
  const { exports } = await WebAssembly.instantiate(module, {});
  const step = 3 / (tiles * size);
  return exports.tile(-2 + (i % tiles) * size * step, -1.5 + Math.floor(i / tiles) * size * step, step, step, size, size, maxIter);
}, { runtimeEnv: { wasm: { mandelbrot: kernel } } });

const tiles = 8;
const counts = await mesh.get(Array.from({ length: tiles * tiles }, (_, i) => tile.remote(i, tiles, 128, 500)));
const shades = ' .:-=+*#%@';
const max = Math.max(...counts);
for (let y = 0; y < tiles; y++) console.log(counts.slice(y * tiles, (y + 1) * tiles).map((c) => shades[Math.floor((c / max) * 9)].repeat(2)).join(''));
return { tiles: counts.length, iterations: counts.reduce((a, b) => a + b, 0) };
`,
  },
  {
    id: 'package',
    title: 'An npm package in tasks',
    description:
      'Tasks mesh.import @sindresorhus/slugify (listed under Packages): bundled once on the coordinator with its dependencies, fetched once per node.',
    packages: ['@sindresorhus/slugify'],
    source: `// A task that uses an npm package (issue 16): the package and its own dependencies are bundled
// into one ES module for the executors; a node fetches it once and every executor imports it once.
const slug = mesh.remote(async function slug(title) {
  const { default: slugify } = await mesh.import('@sindresorhus/slugify');
  return slugify(title);
});
const titles = ['Déjà Vu, encore!', 'Crème Brûlée', 'Straße & Co', 'I ♥ Volunteer Computing'];
const slugs = await mesh.get(titles.map((t) => slug.remote(t)));
titles.forEach((t, i) => console.log(\`\${t} → \${slugs[i]}\`));
return slugs;
`,
  },
  {
    id: 'long',
    title: 'Long job (to cancel)',
    description: 'Keeps 4 one-second tasks running for ten minutes: try Cancel.',
    source: `// A long job: rounds of one-second tasks. Cancel stops it and its tasks.
const nap = mesh.remote(async function nap(ms) {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
});
for (let round = 1; round <= 600; round++) {
  await mesh.get(Array.from({ length: 4 }, () => nap.remote(1000)));
  console.log(\`round \${round} done\`);
}
return 'finished';
`,
  },
];
