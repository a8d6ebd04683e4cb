// Issue 17 (session 16): the volunteer page's upload cap. A donor on a metered
// link sets how many MiB a second its tab uploads to other peers; the setting
// is kept, applies at once to what the tab serves, and the page shows what it
// uploaded. A reader of an object that tab and another hold takes it from the
// other. Real tabs: the capped one on its own origin (`localhost`: its own storage, its setting unseen by the others;
// its own browser until session 35, a launch of ~3 CPU-seconds).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteer, volunteerEval, type VolunteerTab } from './volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';

const MB = 2 ** 20;
// 8 MiB: what the sizes show is which holder served, by shares (the capped tab's at most its rate times the read's
// seconds plus a burst of BURST_MS, well under a chunk: shared/transfer/upload-cap.ts), so a read taken all from the
// capped tab fails them at any size (session 16's gap: 16 MiB from the capped tab in 17 s); 16 MiB (session 33) made
// and moved twice as many bytes between tabs for the same checks (session 34).
const SIZE = 8 * MB;
/**
 * What the capped tab alone holds: 4 s at CAP. Its read's seconds include opening the reader's first link to the tab:
 * with the cap broken (no wait) 2 MiB came in 2.6 s at load 34, inside the bound (session 34); 4 MiB does not.
 */
const SMALL = 4 * MB;
const CAP = 1;

describe("a volunteer's upload cap", () => {
  let cl: Cluster;
  let b: TestBrowser;
  let capped: VolunteerTab;
  let other: VolunteerTab;
  let reader: VolunteerTab;
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    const own = cl.url.replace('//127.0.0.1:', '//localhost:');
    expect(own).not.toBe(cl.url);
    // Opened at once: each waits for its own node to join (one after another took a few seconds more under load).
    [[capped, other, reader], mesh] = await Promise.all([
      Promise.all([openVolunteer(cl, b, { cpus: 1 }, own), openVolunteer(cl, b, { cpus: 1 }), openVolunteer(cl, b, { cpus: 1 })]),
      cl.driver(),
    ]);
  }, 120_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  const uploaded = (t: VolunteerTab) => volunteerEval<number>(t.page, 'v.stats().peerBytesOut');

  const make = (node: string) =>
    mesh.remote(
      (n: number) => {
        const x = new Uint8Array(n);
        for (let i = 0; i < n; i += 1024) x[i] = (i >> 10) & 255;
        return x;
      },
      { scheduling: { node, soft: false } },
    );
  const sum = (node: string) =>
    mesh.remote(
      (x: Uint8Array) => {
        let s = 0;
        for (let i = 0; i < x.length; i += 1024) s += x[i];
        return [x.length, s];
      },
      { scheduling: { node, soft: false } },
    );
  const expectedSum = (n: number) => {
    let s = 0;
    for (let i = 0; i < n; i += 1024) s += (i >> 10) & 255;
    return s;
  };

  it('set on the page and kept; the capped tab, sole holder, serves at its rate; a reader of an object it and another tab hold takes it from the other', async () => {
    // SIZE made on the tab to be capped, and read by the other before the cap: two holders.
    const big = make(capped.nodeId).remote(SIZE);
    expect(await mesh.get(sum(other.nodeId).remote(big))).toEqual([SIZE, expectedSum(SIZE)]);

    // The volunteer types the cap and leaves the field.
    const field = capped.page.locator('#upload');
    expect(await field.inputValue()).toBe('0');
    await field.fill(String(CAP));
    await field.blur();
    expect(await volunteerEval(capped.page, 'v.node.links.upload?.bytesPerMs')).toBeCloseTo((CAP * MB) / 1000);
    const kept = await capped.page.evaluate(() => JSON.parse(localStorage.getItem('tabmesh.volunteer.settings') ?? '{}') as { uploadMiBps?: unknown });
    expect(kept.uploadMiBps).toBe(CAP);
    // Its own storage: the other tabs' origin keeps no cap.
    const theirs = await other.page.evaluate(() => JSON.parse(localStorage.getItem('tabmesh.volunteer.settings') ?? '{}') as { uploadMiBps?: unknown });
    expect(theirs.uploadMiBps ?? 0).toBe(0);
    // A bad value is no cap, not an error.
    expect(await volunteerEval(capped.page, '(v.setUploadMiBps(-5), v.settings.uploadMiBps)')).toBe(0);
    expect(await volunteerEval(capped.page, 'v.node.links.upload')).toBeNull();
    await field.fill(String(CAP));
    await field.blur();

    // The capped tab alone holds a SMALL object: what it sends is paced at the cap (plus a burst of a chunk or two).
    const small = make(capped.nodeId).remote(SMALL);
    await mesh.wait([small]);
    let a0 = await uploaded(capped);
    let t0 = Date.now();
    expect(await mesh.get(sum(reader.nodeId).remote(small))).toEqual([SMALL, expectedSum(SMALL)]);
    let seconds = (Date.now() - t0) / 1000;
    const alone = (await uploaded(capped)) - a0;
    if (process.env.P2P_DEBUG) console.log(JSON.stringify({ seconds, alone }));
    expect(alone).toBeGreaterThan(0);
    expect(alone).toBeLessThanOrEqual(CAP * MB * seconds + MB / 2);

    // The SIZE object: the reader takes it from the other tab; the capped one sends at most its rate.
    a0 = await uploaded(capped);
    const b0 = await uploaded(other);
    t0 = Date.now();
    expect(await mesh.get(sum(reader.nodeId).remote(big))).toEqual([SIZE, expectedSum(SIZE)]);
    seconds = (Date.now() - t0) / 1000;
    const fromCapped = (await uploaded(capped)) - a0;
    const fromOther = (await uploaded(other)) - b0;
    if (process.env.P2P_DEBUG) {
      console.log(JSON.stringify({ seconds, fromCapped, fromOther, capped: capped.nodeId, other: other.nodeId }));
      for (const t of [reader, other, capped]) console.log(t.nodeId, await volunteerEval<string>(t.page, 'v.events.map((e) => e.text).join("\\n")'));
    }
    expect(fromCapped).toBeLessThanOrEqual(CAP * MB * seconds + MB / 2);
    expect(fromCapped + fromOther).toBeGreaterThanOrEqual(SIZE);
    expect(fromOther).toBeGreaterThan(SIZE / 2);

    // The capped tab read an object the other made (it holds a copy as a reader that finished): the next reader takes
    // it from the creator, not all from the capped tab at its cap while the creator sits idle (session 16's gap: all
    // 16 MiB from the capped tab, 17 s).
    const made = make(other.nodeId).remote(SIZE);
    expect(await mesh.get(sum(capped.nodeId).remote(made))).toEqual([SIZE, expectedSum(SIZE)]);
    a0 = await uploaded(capped);
    const c0 = await uploaded(other);
    t0 = Date.now();
    expect(await mesh.get(sum(reader.nodeId).remote(made))).toEqual([SIZE, expectedSum(SIZE)]);
    seconds = (Date.now() - t0) / 1000;
    const gapCapped = (await uploaded(capped)) - a0;
    const gapOther = (await uploaded(other)) - c0;
    if (process.env.P2P_DEBUG) console.log(JSON.stringify({ seconds, gapCapped, gapOther }));
    expect(gapCapped).toBeLessThanOrEqual(CAP * MB * seconds + MB / 2);
    expect(gapOther).toBeGreaterThan(SIZE / 2);

    // The page says what the tab uploaded, and at most how fast.
    await capped.page.waitForFunction(() => /uploaded to other volunteers, at most 1 MiB\/s/.test(document.getElementById('upload-used')?.textContent ?? ''));
    // Kept across a reload (a new node, the same setting).
    await capped.page.reload();
    await capped.page.waitForFunction(() => (window as unknown as { tabmeshVolunteer?: { node?: unknown } }).tabmeshVolunteer?.node);
    expect(await capped.page.locator('#upload').inputValue()).toBe(String(CAP));
    expect(await volunteerEval(capped.page, 'v.node.links.upload?.bytesPerMs')).toBeCloseTo((CAP * MB) / 1000);
  }, 180_000);
});
