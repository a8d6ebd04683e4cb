// A driver refused by a full coordinator follows its `next` (issue 14): a
// coordinator past its connection bound (drivers meet it only past the 16
// connections kept for them) closes with `COORDINATOR_FULL next=<url>`, and
// connect() goes there at once under the nodes' trust rule
// (shared/coordinator-urls.ts): only to a URL of its own list, or to one named
// by a coordinator of that list; a coordinator it was only sent to cannot send
// it anywhere new, and a named URL that is not a plain coordinator URL is
// never opened. White-box: a stand-in WebSocket that plays each coordinator's
// answer (the real coordinators' refusal is test/redis/mesh-full.test.ts).
import { describe, expect, it } from 'vitest';
import { DriverCore } from '../../shared/api/driver.js';
import { ConnectError } from '../../shared/errors.js';
import { encodeFrame } from '../../shared/protocol/frame.js';
import { SocketFields, type WebSocketLike } from '../../shared/api/socket.js';
import { newJobId } from '../../shared/ids.js';

/** What each coordinator (by its ws URL) answers: a welcome, or a full refusal with this close reason. */
type Answer = { welcome: true } | { full: string };

function world(answers: Record<string, Answer>): { opened: string[]; Ws: new (url: string) => WebSocketLike } {
  const opened: string[] = [];
  class Ws extends SocketFields implements WebSocketLike {
    constructor(private readonly url: string) {
      super();
      opened.push(url);
      setTimeout(() => this.open(), 0);
    }
    private open(): void {
      const a = answers[this.url];
      if (!a) {
        this.onerror?.({ message: 'connect ECONNREFUSED' });
        return this.closed(1006, '');
      }
      this.readyState = 1;
      this.onopen?.({});
    }
    send(): void {
      // The hello: answered at once.
      const a = answers[this.url];
      if ('welcome' in a) {
        const welcome = { t: 'welcome' as const, jobId: newJobId(), secret: 's', inlineMax: 65536, heartbeatMs: 1000 };
        setTimeout(() => this.onmessage?.({ data: encodeFrame([welcome]) }), 0);
        return;
      }
      const error = { t: 'error' as const, code: 'COORDINATOR_FULL' as const, message: 'this coordinator holds 16 connections' };
      setTimeout(() => {
        this.onmessage?.({ data: encodeFrame([error]) });
        this.closed(1008, a.full);
      }, 0);
    }
    close(code = 1000, reason = ''): void {
      if (this.readyState !== 3) setTimeout(() => this.closed(code, reason), 0);
    }
    private closed(code: number, reason: string): void {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
  }
  return { opened, Ws };
}

const A = 'http://127.0.0.1:7001';
const B = 'http://127.0.0.1:7002';
const C = 'http://127.0.0.1:7003';
const ws = (u: string) => u.replace('http:', 'ws:') + '/ws';

async function connect(url: string, Ws: new (url: string) => WebSocketLike): Promise<DriverCore> {
  return DriverCore.connect({ url, WebSocket: Ws, connectTimeoutMs: 2000 });
}

describe('a driver refused by a full coordinator', () => {
  it('goes at once to the coordinator the refusal names, when a coordinator of its list names it', async () => {
    const { opened, Ws } = world({ [ws(A)]: { full: `COORDINATOR_FULL next=${B}` }, [ws(B)]: { welcome: true } });
    const core = await connect(A, Ws);
    expect(opened).toEqual([ws(A), ws(B)]);
    await core.close();
  });

  it('is not sent anywhere new by a coordinator it was only sent to: it fails with COORDINATOR_FULL, the third never opened', async () => {
    const { opened, Ws } = world({
      [ws(A)]: { full: `COORDINATOR_FULL next=${B}` },
      [ws(B)]: { full: `COORDINATOR_FULL next=${C}` },
      [ws(C)]: { welcome: true },
    });
    const err = await connect(A, Ws).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe('COORDINATOR_FULL');
    expect(opened).toEqual([ws(A), ws(B)]);
  });

  it('never opens a named URL that is not a plain coordinator URL (credentials, another scheme)', async () => {
    for (const bad of ['http://user:pw@127.0.0.1:7002', 'javascript:alert(1)', 'http://127.0.0.1:7002/?x=1']) {
      const { opened, Ws } = world({ [ws(A)]: { full: `COORDINATOR_FULL next=${bad}` }, [ws(B)]: { welcome: true } });
      const err = await connect(A, Ws).catch((e: unknown) => e);
      expect((err as ConnectError).code, bad).toBe('COORDINATOR_FULL');
      expect(opened, bad).toEqual([ws(A)]);
    }
  });

  it('a full coordinator that names nowhere: the next URL of its list at once', async () => {
    const { opened, Ws } = world({ [ws(A)]: { full: 'COORDINATOR_FULL' }, [ws(B)]: { welcome: true } });
    const core = await connect(`${A},${B}`, Ws);
    expect(opened).toEqual([ws(A), ws(B)]);
    await core.close();
  });

  it('two full coordinators of its list naming each other: a bounded number of tries, then COORDINATOR_FULL', async () => {
    const { opened, Ws } = world({ [ws(A)]: { full: `COORDINATOR_FULL next=${B}` }, [ws(B)]: { full: `COORDINATOR_FULL next=${A}` } });
    const err = await connect(`${A},${B}`, Ws).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe('COORDINATOR_FULL');
    expect(opened.length).toBeGreaterThan(2);
    expect(opened.length).toBeLessThanOrEqual(5);
  });
});
