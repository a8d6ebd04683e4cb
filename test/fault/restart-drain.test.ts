// A coordinator on SQLite closed and started again while a driver's tasks run
// (issue 6's restart): once the driver has every value and frees every ref,
// the coordinator keeps no task and no object of the job. The outputs it made
// at recovery for unfinished tasks held one ref each that nothing released.
import { afterEach, describe, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freedAfterRestart, type Cleanups } from '../helpers/restart-drain.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe('a coordinator restart on SQLite', () => {
  // Groups off: the job's tasks are task rows, recovered as unfinished tasks that run again.
  it('a driver frees everything after the restart: the coordinator drains to no task and no object, and the values were exact', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tabmesh-drain-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    await freedAfterRestart({ dataDir }, cleanups, false);
  }, 120_000);

  it('the same job as a task group: its owner sends it again, each task counted once, drained to no task, object or group', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tabmesh-drain-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    await freedAfterRestart({ dataDir }, cleanups, true);
  }, 120_000);
});
