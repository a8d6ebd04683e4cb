// Ray beside tabmesh in one run (issues 14 and 17): the Python to run it with.
// Ray comes from a Python with `ray` (and what a bench's script imports
// besides): $RAY_PYTHON, else .venv-ray/bin/python here; without one a bench
// says so and stops.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/** A Python that imports `modules` (comma-separated, as in an import line), or null. */
export function rayPython(modules = 'ray'): string | null {
  const candidates = [process.env.RAY_PYTHON, join(ROOT, '.venv-ray/bin/python')].filter((p): p is string => !!p);
  for (const py of candidates) {
    if (!existsSync(py)) continue;
    const r = spawnSync(py, ['-c', `import ${modules}`], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/** What a bench prints when there is no such Python. */
export function noRay(modules: string): string {
  return `skipped: no Python with ${modules} (set RAY_PYTHON, or make .venv-ray with \`pip install ${modules.replace(/,\s*/g, ' ')}\`)`;
}
