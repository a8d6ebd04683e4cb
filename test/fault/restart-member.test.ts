// A group member made a task and freed before a coordinator restart on SQLite, its group still open: the job
// counts it once after the restart (test/helpers/restart-member.ts).
import { afterEach, describe, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freedMemberAcrossRestart } from '../helpers/restart-member.js';
import type { Cleanups } from '../helpers/restart-detached.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe('a group member made a task and freed before a restart on SQLite', () => {
  it('its group still open: the job counts it once, and it does not run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-member-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await freedMemberAcrossRestart({ dataDir: dir }, cleanups);
  }, 120_000);
});
