// Where a node goes when a coordinator is full (issue 14, 20,000 nodes):
// shared/coordinator-urls.ts follows a full coordinator's `next` at once, but
// only to a coordinator of its configured list or one a configured
// coordinator named; a close reason is input from outside.
import { describe, expect, it } from 'vitest';
import { CoordinatorUrls, coordinatorKey, sendOnHint, sendOnReason, MAX_CLOSE_REASON_BYTES } from '../../shared/coordinator-urls.js';

const A = 'http://10.0.0.1:8080';
const B = 'http://10.0.0.2:8080';
const C = 'http://10.0.0.3:8080';
/** How the node runtime words a close (shared/node/runtime.ts). */
const closed = (reason: string) => `connection closed (1008 ${reason})`;

describe('a full coordinator sends a node on', () => {
  it('the refusal names the coordinator in its close reason, when it fits in a close frame', () => {
    expect(sendOnReason('COORDINATOR_FULL', B)).toBe(`COORDINATOR_FULL next=${B}`);
    expect(sendOnHint(closed(sendOnReason('COORDINATOR_FULL', B)))).toBe(B);
    expect(sendOnReason('COORDINATOR_FULL', undefined)).toBe('COORDINATOR_FULL');
    const long = `https://${'x'.repeat(120)}.example:8443`;
    expect(sendOnReason('COORDINATOR_FULL', long)).toBe('COORDINATOR_FULL');
    expect(new TextEncoder().encode(sendOnReason('COORDINATOR_FULL', 'https://' + 'y'.repeat(90))).byteLength).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    expect(sendOnHint(closed('COORDINATOR_FULL'))).toBeUndefined();
  });

  it('only plain http(s) and ws(s) URLs are coordinators: no credentials, query, fragment or other scheme', () => {
    expect(coordinatorKey('ws://10.0.0.2:8080/ws')).toBe(B);
    expect(coordinatorKey(`${B}/`)).toBe(B);
    expect(coordinatorKey('wss://mesh.example/tab/')).toBe('https://mesh.example/tab');
    for (const bad of [
      'javascript:alert(1)',
      'file:///etc/passwd',
      'http://user:pw@evil.example/',
      'http://evil.example/?a=1',
      'http://evil.example/#x',
      'not a url',
      `http://${'a'.repeat(2100)}`,
    ])
      expect(coordinatorKey(bad), bad).toBeUndefined();
  });

  it('a node with one URL follows its coordinator to the one it names, at once; back at its own when that one goes', () => {
    const u = new CoordinatorUrls([A]);
    expect(u.moveOn(closed(`COORDINATOR_FULL next=${B}`))).toBe(true);
    expect(u.current).toBe(B);
    expect(u.followed).toBe(1);
    u.joined();
    // B goes away later: the node's own coordinator again, after the backoff.
    expect(u.moveOn('connection closed (1006)')).toBe(false);
    expect(u.current).toBe(A);
    // A names B again: B is known now.
    expect(u.moveOn(closed(`COORDINATOR_FULL next=ws://10.0.0.2:8080/ws`))).toBe(true);
    expect(u.current).toBe(B);
  });

  it('a coordinator the node was only sent to may not send it anywhere new; a configured one or one already named, yes', () => {
    const u = new CoordinatorUrls([A, C]);
    const logged: string[] = [];
    u.log = (t) => logged.push(t);
    expect(u.moveOn(closed(`COORDINATOR_FULL next=${B}`))).toBe(true);
    expect(u.current).toBe(B);
    // B (named by A) is full too and names an address no trusted coordinator announced: not followed.
    expect(u.moveOn(closed('COORDINATOR_FULL next=http://evil.example:9999'))).toBe(true); // the next of the list at once
    expect(u.current).not.toBe('http://evil.example:9999');
    expect([A, C]).toContain(u.current);
    expect(u.refused).toBe(1);
    expect(logged.some((t) => /not followed/.test(t))).toBe(true);
    // From a configured coordinator, a bad URL is not followed either.
    const v = new CoordinatorUrls([A]);
    v.moveOn(closed('COORDINATOR_FULL next=http://user:pw@evil.example/'));
    expect(v.current).toBe(A);
    expect(v.refused).toBe(1);
  });

  it('a full coordinator that names nowhere: the next URL of the list at once, and the backoff once every one was tried', () => {
    const u = new CoordinatorUrls([A, B]);
    const full = closed('COORDINATOR_FULL');
    expect(u.moveOn(full)).toBe(true);
    expect(u.current).toBe(B);
    expect(u.moveOn(full)).toBe(true);
    expect(u.current).toBe(A);
    let quick = 0;
    for (let i = 0; i < 10; i++) if (u.moveOn(full)) quick++;
    expect(quick).toBeLessThan(10);
    // A node with one URL backs off on it (nothing else to try).
    const one = new CoordinatorUrls([A]);
    expect(one.moveOn(full)).toBe(false);
    // Two full coordinators naming each other do not bounce a node forever without a wait.
    const ping = new CoordinatorUrls([A, B]);
    let waits = 0;
    for (let i = 0; i < 20; i++) if (!ping.moveOn(closed(`COORDINATOR_FULL next=${i % 2 ? A : B}`))) waits++;
    expect(waits).toBeGreaterThan(0);
  });
});
