// A job's counts survive a coordinator SIGKILLed mid-job on SQLite (docs/decisions.md "A job's counts survive a
// restart"): tasks freed before the kill count as well as those read back, with groups on and off.
import { afterEach, describe, it } from 'vitest';
import { cleanupProcesses, dataCoordinator, tempDir } from '../helpers/processes.js';
import { countsAcrossKill } from '../helpers/restart-counts.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  cleanupProcesses();
});

describe("a job's counts across a coordinator SIGKILL on SQLite", () => {
  for (const groups of [false, true]) {
    it(`groups ${groups ? 'on' : 'off'}: 1,300 submitted, 1,270 finished, 30 failed, 600 of them freed before the kill; the same once the job ended and after another restart`, async () => {
      const data = tempDir('tabmesh-counts-');
      const token = 'counts-' + Math.random().toString(36).slice(2);
      await countsAcrossKill(
        (port) => dataCoordinator(data, token, port),
        token,
        groups,
        (m) => (mesh = m),
      );
    }, 180_000);
  }
});
