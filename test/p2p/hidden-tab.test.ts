// A hidden tab serves at the channel's pace (issue 17). Chromium fires a hidden
// tab's timers at most once a second; a holder that waited on a full data
// channel with a timer sent ~2 MiB a second whatever the channel could do. It
// waits for 'bufferedamountlow' instead. Headless Chromium shows every page as
// visible (bringing another to the front, minimising its window: still
// 'visible'), so the holder's clamp is emulated: its timers fire after 1 s at
// the soonest, and the page says it is hidden.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { HIDDEN, joined, openVolunteer, volunteerEval, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

const MB = 2 ** 20;
const SIZE = 16 * MB;

describe('a transfer from a hidden tab', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let hidden: VolunteerTab;
  let shown: VolunteerTab;
  let reader: VolunteerTab;
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    const openHidden = async (): Promise<VolunteerTab> => {
      const page = await b.newPage();
      await page.addInitScript(HIDDEN);
      await page.goto(`${cl.url}/?cpuShare=1&cpus=1&memoryMb=256`);
      return { page, nodeId: await joined(cl, page) };
    };
    // Opened at once: each waits for its own node to join.
    [hidden, shown, reader] = await Promise.all([
      openHidden(),
      openVolunteer(cl, b, { cpus: 1, memoryMb: 256 }),
      openVolunteer(cl, b, { cpus: 1, memoryMb: 256 }),
    ]);
    mesh = await cl.driver();
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  /** Makes SIZE bytes on `holder`, fetches them over the reader's link to it in one request: ms taken, and what woke the holder's sender meanwhile. */
  async function read(holder: VolunteerTab, seed: number) {
    const make = mesh.remote(
      function make(n: number, seed: number) {
        const x = new Uint8Array(n);
        for (let i = 0; i < n; i += 997) x[i] = (i * seed) & 255;
        return x;
      },
      { scheduling: { node: holder.nodeId as NodeId, soft: false } },
    );
    const ref = make.remote(SIZE, seed);
    await mesh.wait([ref]);
    const wakes = () => volunteerEval<{ drain: number; timer: number }>(holder.page, '({ ...v.node.links.counters.sendWakes })');
    const before = await wakes();
    const got = (await volunteerEval(
      reader.page,
      `(async () => {
        const t = performance.now();
        // One request for the whole object (the stored form: an 8-byte header for the kind, then the array's bytes).
        const bytes = await v.node.links.fetch('${holder.nodeId}', '${ref.id}', ${SIZE + 8});
        const ms = performance.now() - t;
        const off = bytes.length - ${SIZE};
        let bad = 0;
        for (let i = 0; i < ${SIZE}; i++) if (bytes[off + i] !== (i % 997 === 0 ? (i * ${seed}) & 255 : 0)) bad++;
        return { ms, n: bytes.length - off, bad, off };
      })()`,
    )) as { ms: number; n: number; bad: number; off: number };
    const after = await wakes();
    mesh.free([ref]);
    return { ...got, drain: after.drain - before.drain, timer: after.timer - before.timer };
  }

  const timersOf = (page: Page) =>
    page.evaluate(`(async () => { const t = performance.now(); await new Promise((r) => setTimeout(r, 2)); return performance.now() - t; })()`);

  it('goes at the pace of one from a shown tab: the sender waits for the drain event, not for its (clamped) timer', async () => {
    expect(await hidden.page.evaluate('document.visibilityState')).toBe('hidden');
    expect(await timersOf(hidden.page)).toBeGreaterThanOrEqual(990);
    const fromShown = await read(shown, 3);
    const fromHidden = await read(hidden, 5);
    console.log(
      `16 MiB from a shown tab ${Math.round(fromShown.ms)} ms, from a hidden one ${Math.round(fromHidden.ms)} ms; hidden sender woken ${fromHidden.drain}x by the drain event, ${fromHidden.timer}x by its timer`,
    );
    for (const r of [fromShown, fromHidden]) expect([r.n, r.bad, r.off]).toEqual([SIZE, 0, 8]);
    // 16 MiB in one request through a 2 MiB queue refilled below 512 KiB: several drains, each an event.
    expect(fromHidden.drain).toBeGreaterThanOrEqual(4);
    // The safety net fires only where the channel took over 1 s (clamped) to drain: fewer than the events, even under load.
    // The pace is told by these counts (with the event unwired: 0 drain, 8 timer wakes), not by a wall-clock ratio of two
    // reads taken seconds apart on a shared machine (their times are printed above).
    expect(fromHidden.timer).toBeLessThanOrEqual(fromHidden.drain);
  }, 120_000);
});
