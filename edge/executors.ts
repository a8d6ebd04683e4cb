// Executors of an edge node: worker_threads, one per CPU.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SpawnExecutor } from '../shared/node/executors.js';
import type { FromExecutor } from '../shared/executor/protocol.js';

function workerFile(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  // Running from sources (vitest): use the built worker.
  const built = fileURLToPath(new URL('../dist/edge/worker.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new Error('edge/worker.js not found: run `npm run build` first');
}

export function workerThreadExecutors(opts: { maxOldSpaceMb?: number } = {}): SpawnExecutor {
  const file = workerFile();
  return (index, onMessage, onExit) => {
    const w = new Worker(file, {
      name: `tabmesh-executor-${index}`,
      resourceLimits: opts.maxOldSpaceMb ? { maxOldGenerationSizeMb: opts.maxOldSpaceMb } : undefined,
    });
    let terminated = false;
    w.on('message', (m: FromExecutor) => onMessage(m));
    w.on('error', (e) => {
      if (!terminated) onExit(e.message);
    });
    w.on('exit', (code) => {
      if (!terminated) onExit(`exit code ${code}`);
    });
    w.unref();
    return {
      post: (m, transfer) => w.postMessage(m, transfer ?? []),
      terminate: () => {
        terminated = true;
        void w.terminate();
      },
    };
  };
}
