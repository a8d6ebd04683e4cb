// A gate a task on a node process waits at: a file the test creates when the
// task may end (`open`). The task polls for it (a task is its function's
// source, so the loop is written in it:
// `const fs = process.getBuiltinModule('node:fs'); while (!fs.existsSync(path)) await new Promise((r) => setTimeout(r, 20));`).
// It holds a task running for as long as the test needs, where a fixed sleep
// was either too long (time spent waiting) or, at load, too short.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FileGate {
  /** The file the task waits for. */
  readonly path: string;
  open(): void;
  /** Removes its folder (afterEach). */
  remove(): void;
}

export function fileGate(): FileGate {
  const dir = mkdtempSync(join(tmpdir(), 'tabmesh-gate-'));
  const path = join(dir, 'open');
  return {
    path,
    open: () => writeFileSync(path, ''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
