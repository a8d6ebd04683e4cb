// Sockets waiting to say hello to a link listener are bounded (issue 17,
// security): in all and per remote address, across the TCP port of fast links
// and the WebSocket port of tabs; one beyond a bound is closed at once, and a
// slot comes back when a socket says hello, goes, or runs out of time.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { FastListener, TOKEN_CHARS } from '../../edge/fast-listener.js';
import { WS_PATH } from '../../edge/fast-ws.js';
import { HELLO_MS, PendingHellos } from '../../edge/pending-hellos.js';
import { until } from '../helpers/poll.js';

describe('PendingHellos', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('turns away a socket beyond the bound per address or in all; a hello, a close or the hello time frees its slot', () => {
    vi.useFakeTimers();
    const g = new PendingHellos({ max: 3, perAddress: 2 });
    const expired: string[] = [];
    const a1 = g.admit('10.0.0.1', () => expired.push('a1'));
    const a2 = g.admit('10.0.0.1', () => expired.push('a2'));
    expect(a1 && a2).toBeTruthy();
    expect(g.admit('10.0.0.1', () => {})).toBeNull(); // per address
    const b1 = g.admit('10.0.0.2', () => expired.push('b1'));
    expect(b1).toBeTruthy();
    expect(g.admit('10.0.0.3', () => {})).toBeNull(); // in all
    expect(g.turnedAway).toBe(2);
    a1!();
    a1!(); // once only
    expect(g.pending).toBe(2);
    expect(g.admit('10.0.0.1', () => expired.push('a3'))).toBeTruthy();
    expect(g.admit('10.0.0.1', () => {})).toBeNull();
    vi.advanceTimersByTime(HELLO_MS);
    // a1 said hello before its time: it does not expire; the others do, and their slots are free again.
    expect(expired.sort()).toEqual(['a2', 'a3', 'b1']);
    expect(g.pending).toBe(0);
    expect(g.admit('10.0.0.1', () => {})).toBeTruthy();
  });
});

describe('a link listener bounds the sockets that have not said hello', () => {
  const open: { destroy(): void }[] = [];
  let listener: FastListener | null = null;
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
    listener?.close();
    listener = null;
  });

  /** A TCP socket from `from` to the listener; resolves once connected, `closed` says whether the listener closed it. */
  async function tcp(port: number, from: string): Promise<{ s: Socket; closed: () => boolean }> {
    const s = connect({ host: '127.0.0.1', port, localAddress: from });
    open.push(s);
    let closed = false;
    s.on('close', () => (closed = true));
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    return { s, closed: () => closed };
  }

  function ws(port: number, from: string): { closed: () => boolean; opened: Promise<void> } {
    const w = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`, { localAddress: from });
    open.push({ destroy: () => w.terminate() });
    let closed = false;
    w.on('close', () => (closed = true));
    w.on('error', () => {});
    return { closed: () => closed, opened: new Promise<void>((r) => w.once('open', () => r())) };
  }

  it('silent TCP and WebSocket sockets from one address hold at most its share; the next is closed at once, while the others wait', async () => {
    listener = new FastListener('127.0.0.1', { max: 3, perAddress: 2 });
    const [port, wsPort] = await Promise.all([listener.port(), listener.ws.port()]);
    const quiet = [await tcp(port, '127.0.0.2')];
    const w = ws(wsPort, '127.0.0.2');
    await w.opened;
    await until(() => listener!.pending.pending === 2, { timeoutMs: 5000, what: 'two sockets waiting' });
    // A third from the same address: closed at once, over either port.
    const third = await tcp(port, '127.0.0.2');
    await until(() => third.closed(), { timeoutMs: 2000, what: 'the third socket to be closed' });
    const fourth = ws(wsPort, '127.0.0.2');
    await until(() => fourth.closed(), { timeoutMs: 2000, what: 'the WebSocket beyond the share to be closed' });
    expect(listener.pending.turnedAway).toBe(2);
    // Another address has its own share, up to the bound in all.
    const other = await tcp(port, '127.0.0.3');
    await until(() => listener!.pending.pending === 3, { timeoutMs: 5000, what: 'three sockets waiting' });
    const fifth = await tcp(port, '127.0.0.4');
    await until(() => fifth.closed(), { timeoutMs: 2000, what: 'the socket beyond the bound in all to be closed' });
    // The waiting ones were not closed meanwhile.
    expect(quiet[0].closed() || w.closed() || other.closed()).toBe(false);

    // One says hello with a token the listener expects: it is a link now, and its slot is free.
    const token = 'x'.repeat(TOKEN_CHARS);
    const accepted = new Promise<string>((r) => listener!.expect(token, (c) => r(c.kind)));
    other.s.write(Buffer.concat([Buffer.from('TMF1'), Buffer.from(token, 'latin1')]));
    expect(await accepted).toBe('tcp');
    expect(listener.pending.pending).toBe(2);
    const sixth = await tcp(port, '127.0.0.4');
    await until(() => listener!.pending.pending === 3, { timeoutMs: 5000, what: 'the freed slot to be taken' });
    expect(sixth.closed()).toBe(false);
    // A silent socket that goes frees its slot too.
    quiet[0].s.destroy();
    await until(() => listener!.pending.pending === 2, { timeoutMs: 5000, what: 'the closed socket to free its slot' });
  });
});
