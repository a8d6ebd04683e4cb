// tabmesh beside Ray on large objects (issue 17), in one run: put of an 80
// MiB array (then ready) and a task reading an 80 MiB object already on its
// node, Ray with num_cpus=2, tabmesh with a coordinator and one edge node of
// 2 executors. Ray comes from a Python with `ray` and `numpy`: $RAY_PYTHON,
// else .venv-ray/bin/python here; without one the bench says so and stops.
//
//   npm run build && node dist/bench/ray-objects.js
import { spawnSync } from 'node:child_process';
import { connect } from '../edge/index.js';
import { emit, figure, log, runBench, startCluster } from './harness.js';
import { noRay, rayPython } from './ray.js';
import { edgeNodeIds, executorRead, putFigures } from './objects-node.js';

const RAY_SCRIPT = `
import json, time, numpy as np, ray
ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
a = np.ones(80 * 2**20 // 4, dtype=np.float32)
times = []
for _ in range(4):
    t = time.perf_counter(); r = ray.put(a); ray.wait([r]); times.append(time.perf_counter() - t); del r
put = 80 * 2**20 / min(times) / 1e9
first = 80 * 2**20 / times[0] / 1e9
@ray.remote
def read(x): return len(x) + float(x[-1])
ref = ray.put(a)
ray.get(read.remote(ref))
t = time.perf_counter(); ray.get([read.remote(ref) for _ in range(20)]); reads = 20 / (time.perf_counter() - t)
print(json.dumps({"put": put, "first": first, "reads": reads}))
`;

/** Ray's GB/s: the best of 4 puts (memory of the ones before reused) and the first (fresh memory); task reads/s. */
interface RayFigures {
  put: number;
  first: number;
  reads: number;
}

function runRay(py: string): RayFigures {
  const r = spawnSync(py, ['-c', RAY_SCRIPT], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`ray failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as RayFigures;
}

async function main(): Promise<void> {
  const py = rayPython('ray, numpy');
  if (!py) return log(noRay('ray, numpy'));
  // Ray runs before and after tabmesh and keeps its better figure of the two:
  // on a shared machine one run of either can fall into a busy minute.
  const before = runRay(py);
  const cl = await startCluster({ nodes: 1, cpus: 2 });
  const mesh = await connect({ url: cl.url, token: cl.token });
  try {
    const [node] = await edgeNodeIds(cl.url, cl.token);
    const put = (await putFigures(mesh))[80];
    const reads = await executorRead(mesh, node);
    const after = runRay(py);
    log(
      `Ray runs: put ${before.put.toFixed(2)} / ${after.put.toFixed(2)} GB/s (first put ${before.first.toFixed(2)} / ${after.first.toFixed(2)}), reads ${before.reads.toFixed(1)} / ${after.reads.toFixed(1)}/s`,
    );
    const ray = { put: Math.max(before.put, after.put), first: Math.max(before.first, after.first), reads: Math.max(before.reads, after.reads) };
    const fresh = put.fresh ?? put.first;
    log(
      `put 80 MiB: tabmesh ${put.reused.toFixed(2)} GB/s reusing freed memory, ${fresh.toFixed(2)} into fresh memory (median; the first put ${put.first.toFixed(2)}), Ray ${ray.put.toFixed(2)}; node-local 80 MiB reads: tabmesh ${reads.toFixed(1)}/s, Ray ${ray.reads.toFixed(1)}/s`,
    );
    emit(figure('ray.put.80MiB', put.reused, 'GB/s', ray.put));
    emit(figure('ray.put.80MiB.firstPut', put.first, 'GB/s', ray.put));
    emit(figure('ray.put.80MiB.fresh', fresh, 'GB/s', ray.put));
    // Fresh memory on both sides: tabmesh's median fresh put against Ray's first put.
    emit(figure('ray.put.80MiB.freshVsFirst', fresh, 'GB/s', ray.first));
    emit(figure('ray.taskRead.80MiB', reads, 'reads/s', ray.reads));
  } finally {
    await mesh.close().catch(() => {});
    await cl.stop();
  }
}

runBench(main);
