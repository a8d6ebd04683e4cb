// Issue 3: the volunteer page itself. It joins on opening, is driven from the
// keyboard, keeps the volunteer's choices across reloads, hands back the work
// it has not started when paused, and looks right on a desktop and a phone
// (screenshots in test-results/).
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster, ROOT } from '../helpers/cluster.js';
import { joined, openVolunteer, tasksDone, volunteerEval } from './volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';

const SHOTS = `${ROOT}test-results`;

describe('the volunteer page', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let mesh: Mesh;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    mesh = await cl.driver();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await cl?.stop();
  });

  const node = (id: string) => cl.c.coordinator.gcs.nodes.get(id as never);

  it('joins on opening, runs tasks, and shows it; screenshots on a desktop and a phone', async () => {
    const page = await b.newPage();
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto(cl.url + '/');
    const id = await joined(cl, page);
    const square = mesh.remote(function square(x: number) {
      console.log('squared', x);
      return x * x;
    });
    await mesh.get(Array.from({ length: 40 }, (_, i) => square.remote(i)));
    await page.getByText('Connected', { exact: true }).waitFor();
    await page.locator('#s-run', { hasText: '40' }).waitFor({ timeout: 10_000 });
    await page.locator('#events li', { hasText: 'ran ' }).first().waitFor({ timeout: 10_000 });
    await expect(page.locator('#node-id').textContent()).resolves.toBe(id);
    // Small arguments and results travel inside coordinator messages, with no relay or peer link: still data moved (issue 11 QA: it read 0 B).
    const moved = await volunteerEval<{ bytesIn: number; bytesOut: number }>(page, 'v.stats()');
    expect(moved.bytesIn).toBeGreaterThanOrEqual(40);
    expect(moved.bytesOut).toBeGreaterThanOrEqual(40);
    await page.locator('#s-net').filter({ hasNotText: /^0 B$/ }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${SHOTS}/volunteer-desktop.png`, fullPage: true });

    const phone = await b.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(cl.url + '/');
    await joined(cl, phone);
    await phone.screenshot({ path: `${SHOTS}/volunteer-phone.png`, fullPage: true });
    // Nothing sticks out sideways on a narrow screen.
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await phone.close();
    await page.close();
  }, 60_000);

  it('is keyboard accessible, and keeps pause and executor choices across a reload', async () => {
    const page = await b.newPage();
    await page.goto(cl.url + '/');
    const id = await joined(cl, page);
    // Tab to Pause and press it.
    let focused = '';
    for (let i = 0; i < 10 && focused !== 'pause'; i++) {
      await page.keyboard.press('Tab');
      focused = (await page.evaluate('document.activeElement && document.activeElement.id')) as string;
    }
    expect(focused).toBe('pause');
    await page.keyboard.press('Enter');
    await cl.until(
      () => node(id)?.resources.cpu === 0,
      10_000,
      () => 'the pause to reach the coordinator',
    );
    expect(await page.getAttribute('#pause', 'aria-pressed')).toBe('true');
    // One more executor, from the keyboard too.
    await page.focus('#cpus-inc');
    await page.keyboard.press('Space');
    const cpus = Number(await page.inputValue('#cpus'));
    expect(cpus).toBeGreaterThan(1);

    await page.reload();
    const again = await joined(cl, page, id);
    expect(await page.inputValue('#cpus')).toBe(String(cpus));
    expect(await page.getAttribute('#pause', 'aria-pressed')).toBe('true');
    expect(node(again)?.resources.cpu).toBe(0); // joined paused
    await page.click('#pause');
    await cl.until(
      () => node(again)?.resources.cpu === cpus,
      10_000,
      () => `node ${again} to offer ${cpus} cpus`,
    );
    expect(await volunteerEval<number>(page, 'v.node.local.executors.length')).toBe(cpus);

    // Leave, and join again.
    await page.click('#leave');
    await cl.until(
      () => !node(again),
      10_000,
      () => 'the node to leave',
    );
    await page.getByText('Not connected').waitFor();
    await page.click('#leave'); // now "Join again"
    await joined(cl, page, again);
    await page.close();
  }, 60_000);

  it('a paused tab hands back the tasks it has not started', async () => {
    const a = await openVolunteer(cl, b, { cpus: 1, paused: 'false' });
    const spin = mesh.remote(function spin(ms: number) {
      const end = Date.now() + ms;
      while (Date.now() < end);
      return ms;
    });
    // Measured first (a few ms a run): a 1-CPU node then takes several calls at once, plain tasks or a group's
    // members (an unmeasured function's members go one a free CPU, coordinator/groups/group-room.ts), so the tab
    // holds calls it has not started. Runs of 2 ms: none batched into its executor (ready-queue.ts, under 1 ms).
    expect(await mesh.get(Array.from({ length: 4 }, () => spin.remote(2)))).toEqual(Array(4).fill(2));
    // The measure is the tab's run time: under load it read 5 ms or more, and at depth floor(10 ms / measure) = 1 the
    // 1-CPU tab took one call at a time, never holding one it had not started (session 30: the wait below ran out
    // with the 6 calls run one by one on the tab). Held at the 2 ms a run takes: this case is about the pause.
    const fn = [...cl.c.coordinator.gcs.functions.values()].find((f) => f.name === 'spin')!;
    fn.ewmaMs = 2;
    const before = tasksDone(cl);
    // Runs of 1 s (1.5 s until session 34): the tab's pause, from the wait below to the coordinator hearing it, would
    // have to take 5 s for the tab to run all six first; the helper runs what is handed back on 2 CPUs. Each run is a
    // busy loop: 6 CPU-seconds in all where 9 were.
    const refs = Array.from({ length: 6 }, () => spin.remote(1000));
    await cl.until(
      () => (node(a.nodeId)?.inflightTasks ?? 0) >= 2,
      20_000,
      // What the tab held, for a failure under load (CI, session 29: the wait ran out once, not reproduced): was the
      // tab still the node it joined as, and what did the coordinator hold for the calls?
      () => {
        const n = node(a.nodeId);
        const nodes = [...cl.c.coordinator.gcs.nodes.values()].map((m) => `${m.name}: ${m.inflightTasks} in flight, ${m.tasksDone} done`);
        const g = cl.c.coordinator.gcs.stats;
        return `tasks to reach the tab (${n ? `${n.inflightTasks} in flight, ${n.tasksDone} done` : 'the tab is not a node now'}; nodes: ${nodes.join('; ')}; tasks submitted ${g.tasksSubmitted}, finished ${g.tasksFinished}, retried ${g.tasksRetried}; spin measured ${fn.ewmaMs.toFixed(1)} ms over ${fn.runs} runs)`;
      },
    );
    await a.page.click('#pause');
    // The tab's pause reached the coordinator (its capacity 0 comes after its hand-back, in order): from here it runs
    // only the call it had started, on its one executor. Counted from then, not from the wait above: under load the
    // click came after the tab had finished a call and started the next (session 30: 3 where 2 were allowed, 2 of 5
    // runs at load 34-38).
    await cl.until(
      () => node(a.nodeId)?.resources.cpu === 0,
      20_000,
      () => `the coordinator to hear the tab pause (cpu ${node(a.nodeId)?.resources.cpu})`,
    );
    const atPause = tasksDone(cl).get(a.nodeId)!;
    // Choices are per browser: the helper tab must not start paused as well.
    const helper = await openVolunteer(cl, b, { cpus: 2, paused: 'false' });
    expect(await mesh.get(refs)).toEqual(Array(6).fill(1000));
    const done = tasksDone(cl);
    expect(done.get(a.nodeId)! - atPause).toBeLessThanOrEqual(1);
    const onTab = done.get(a.nodeId)! - before.get(a.nodeId)!;
    expect(onTab).toBeLessThan(6);
    expect(done.get(helper.nodeId)).toBe(6 - onTab);
    await a.page.close();
    await helper.page.close();
  }, 90_000);
});
