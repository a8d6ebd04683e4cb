// A reader's link whose other end was closed, the close not yet arrived (test/p2p/ws-link's bad-chunk case, CI of
// session 18: the tab closed its WebRTC link to the edge node, which then read from the tab over it). The request
// goes out on the stale link, the close comes after it: the reader opens a fresh link to the same holder and takes
// the object over it, not from the relay (peerOnlyReader fails the fetch when the relay is used).
import { describe, expect, it } from 'vitest';
import { FakeNet } from '../helpers/fake-net.js';
import { peerOnlyReader, sampleBytes } from '../helpers/fetcher.js';
import { contentHash } from '../../shared/hash.js';
import type { ObjectId } from '../../shared/ids.js';
import { BadChunkError } from '../../shared/transfer/fetch-errors.js';

const OBJ = 'cf'.repeat(20) as ObjectId;

/** A holder of `size` bytes and a reader with a link open between them that the holder then closes; the reader hears it `noticeMs` later. */
async function staleLink(noticeMs: number, size = 2 * (1 << 20) + 4321) {
  const net = new FakeNet();
  net.closeNoticeMs = noticeMs;
  const bytes = sampleBytes(size);
  const hash = contentHash(bytes);
  const holder = net.add('holder', new Map([[OBJ, bytes]]));
  const links = net.add('reader', new Map());
  await links.linkTo('holder');
  holder.closeAll();
  expect(links.isOpen('holder')).toBe(true); // the close has not arrived
  return { net, bytes, hash, links };
}

describe('a reader whose open link the holder closed, the close still on its way', () => {
  it('a swarm reader (the leaves and first run on the stale link) reads over a fresh link, not the relay', async () => {
    const { net, bytes, hash, links } = await staleLink(100);
    const f = peerOnlyReader(links, ['holder'], true);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash });
    expect(contentHash(got.bytes)).toBe(hash);
    expect(got.via).toBe('peer');
    expect(links.opened.webrtc).toBe(2);
    expect(net.logs).toContain('reader: peer link to holder closed: closed by the other side');
  });

  it('a reader of a small object from one holder asks it again over a fresh link, not the relay', async () => {
    const { net, hash, links } = await staleLink(100, 200_000);
    const f = peerOnlyReader(links, ['holder']);
    const got = await f.fetch(OBJ, { size: 200_000, hash });
    expect(contentHash(got.bytes)).toBe(hash);
    expect(links.opened.webrtc).toBe(2);
    expect(net.logs).toContain('reader: peer link to holder closed: closed by the other side');
  });
});

describe('a swarm reader still waiting for the leaves', () => {
  it('asked for the leaves by another reader, refuses (it holds none yet), and is not named a liar', async () => {
    const { net, bytes, hash, links } = await staleLink(60_000); // its request waits on the stale link
    const f = peerOnlyReader(links, ['holder'], true);
    const reading = f.fetch(OBJ, { size: bytes.byteLength, hash });
    reading.catch(() => {});
    const other = net.add('other', new Map());
    await new Promise((r) => setTimeout(r, 20));
    const err = await other.fetch('reader', OBJ, bytes.byteLength, { hash, leavesOnly: true }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(BadChunkError);
    expect((err as Error).message).toMatch(/not held here/);
    for (const p of net.pools.values()) p.stop();
  });
});

describe('a swarm reader whose only holder can never be linked', () => {
  it('goes to the relay after one link that did not open, not after every backoff (was 4 links and ~27 s with 5 s links)', async () => {
    const net = new FakeNet();
    net.connectTimeoutMs = 150;
    const size = 2 * (1 << 20);
    const bytes = sampleBytes(size);
    net.add('holder', new Map([[OBJ, bytes]]));
    net.unreachable.add('holder');
    const links = net.add('reader', new Map());
    const f = peerOnlyReader(links, ['holder'], true);
    const err = await f.fetch(OBJ, { size, hash: contentHash(bytes) }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/the relay was used/);
    expect(net.offers.get('reader')).toBe(1);
    for (const p of net.pools.values()) p.stop();
  });
});
