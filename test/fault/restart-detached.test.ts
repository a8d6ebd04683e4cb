// A named detached actor and a coordinator restart on SQLite (Ray: a detached
// actor outlives its job and its handles until killed): restarted while its
// creating driver runs, or after that driver ended, the actor answers a new
// driver by name with its state, and goes once killed.
import { afterEach, describe, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detachedAcrossRestart, type Cleanups } from '../helpers/restart-detached.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tabmesh-detached-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('a detached actor across a coordinator restart on SQLite', () => {
  it('restarted while its driver runs, then the driver ends: a new driver finds it by name, with its state', async () => {
    await detachedAcrossRestart({ dataDir: dataDir() }, cleanups, 'restart-then-end');
  }, 120_000);

  it('its driver ended, then the coordinator restarted: a new driver finds it by name, with its state', async () => {
    await detachedAcrossRestart({ dataDir: dataDir() }, cleanups, 'end-then-restart');
  }, 120_000);

  it('its driver ended, then the coordinator restarted twice: a new driver still finds it, with its state', async () => {
    await detachedAcrossRestart({ dataDir: dataDir() }, cleanups, 'end-then-restart', 2);
  }, 120_000);
});
