// Issue 3: a task's console output reaches the driver that submitted it,
// prefixed with the function and the node, and a line many tasks print alike
// is printed once, then summed up.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteer, type VolunteerTab } from './volunteers.js';
import type { DriverCore } from '../../shared/api/driver.js';
import type { Mesh } from '../../shared/api/mesh.js';

describe('console output of tasks in a tab', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tab: VolunteerTab;
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    [tab, mesh] = await Promise.all([openVolunteer(cl, b, { cpus: 1, name: 'tab-under-test' }), cl.driver()]);
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await cl?.stop();
    await b?.close();
  });

  it('reaches the driver, prefixed with function and node, repeated lines deduplicated', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const chatty = mesh.remote(function chatty(i: number) {
      console.log('hello from a task');
      console.log(`item ${i}`);
      if (i === 3) console.warn('three is odd', { i });
      return i;
    });
    expect(await mesh.get(Array.from({ length: 20 }, (_, i) => chatty.remote(i)))).toHaveLength(20);
    const lines = () => log.mock.calls.map((c) => String(c[0]));
    const warns = () => warn.mock.calls.map((c) => String(c[0]));
    // Every task's last line too (the warn of task 3 may come in a later frame than the 20th item line).
    await cl.until(
      () => lines().filter((l) => l.includes('item ')).length === 20 && warns().length > 0,
      20_000,
      () => `20 item lines and a warn, got ${lines().length} lines and ${warns().length} warns`,
    );
    expect(lines()).toContain('[chatty@tab-under-test] item 7');
    expect(warns()).toEqual(['[chatty@tab-under-test] three is odd {"i":3}']);

    // A line is printed once per deduplication window (2 s), its repeats summed up at the window's end. Under load
    // the 20 tasks may span two windows: printed lines and counted repeats add up to 20 either way.
    (mesh.core as DriverCore).output.flush();
    const hello = lines().filter((l) => l.includes('hello from a task'));
    const printed = hello.filter((l) => l === '[chatty@tab-under-test] hello from a task').length;
    const repeats = hello.map((l) => /^\[chatty\] hello from a task \[repeated (\d+)x on tab-under-test\]$/.exec(l)?.[1]);
    expect(printed).toBeGreaterThan(0);
    expect(printed + repeats.reduce((a, r) => a + Number(r ?? 0), 0)).toBe(20);
    expect(hello).toHaveLength(printed + repeats.filter((r) => r !== undefined).length);
    if (printed === 1) expect(hello).toContain('[chatty] hello from a task [repeated 19x on tab-under-test]');
    expect(tab.nodeId).toBeTruthy();
  }, 60_000);
});
