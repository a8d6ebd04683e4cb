// Issue 8: roles and tokens. Every route and the WebSocket with no token, a
// wrong token, and a viewer token where the driver token is needed; a
// private mesh's join token; rotation through `tabmesh token rotate` while
// the coordinator runs; security headers and the HTTP rate limit.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { connect } from '../../edge/index.js';
import { HostileNode, RawPeer } from './hostile.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/messages.js';
import { sameSecret } from '../../coordinator/auth/tokens.js';

const VIEWER = 'viewer-secret-0123456789';
const JOB = '0123456789abcdef';

/** Every HTTP route of the API and whether it needs the driver token (else viewer suffices). */
const ROUTES: Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string; driver: boolean }> = [
  { method: 'GET', url: '/api/stats', driver: false },
  { method: 'GET', url: '/api/nodes', driver: false },
  { method: 'GET', url: '/api/events', driver: false },
  { method: 'GET', url: '/api/jobs', driver: false },
  { method: 'GET', url: `/api/jobs/${JOB}`, driver: false },
  { method: 'GET', url: `/api/jobs/${JOB}/log`, driver: false },
  { method: 'GET', url: `/api/jobs/${JOB}/graph`, driver: false },
  { method: 'GET', url: '/api/tasks', driver: false },
  { method: 'GET', url: '/api/objects', driver: false },
  { method: 'GET', url: '/api/actors', driver: false },
  { method: 'GET', url: `/api/timeline?job=${JOB}`, driver: false },
  { method: 'POST', url: '/api/jobs', driver: true },
  { method: 'DELETE', url: `/api/jobs/${JOB}`, driver: true },
];

describe('roles and tokens', () => {
  let cl: Cluster;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0, viewerToken: VIEWER });
  }, 60_000);
  afterAll(() => cl?.stop());

  it('secrets compare in constant time whatever their length', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret('a', 'a much longer secret')).toBe(false);
    expect(sameSecret(undefined, 'x')).toBe(false);
    expect(sameSecret('', '')).toBe(false);
  });

  it('each API route: no token and a wrong token get 401, a viewer token 403 where the driver token is needed', async () => {
    for (const r of ROUTES) {
      const body = r.method === 'POST' ? { source: 'return 1' } : undefined;
      const none = await cl.c.app.inject({ method: r.method, url: r.url, payload: body });
      expect(none.statusCode, `${r.method} ${r.url} without a token`).toBe(401);
      expect(none.json().error).toBe('UNAUTHORIZED');
      const wrong = await cl.c.app.inject({ method: r.method, url: r.url, payload: body, headers: { authorization: 'Bearer wrong' } });
      expect(wrong.statusCode, `${r.method} ${r.url} with a wrong token`).toBe(401);
      const prefix = await cl.c.app.inject({ method: r.method, url: r.url, payload: body, headers: { authorization: `Bearer ${cl.token.slice(0, -1)}` } });
      expect(prefix.statusCode, `${r.method} ${r.url} with a token one character short`).toBe(401);
      const viewer = await cl.c.app.inject({ method: r.method, url: r.url, payload: body, headers: { authorization: `Bearer ${VIEWER}` } });
      if (r.driver) {
        expect(viewer.statusCode, `${r.method} ${r.url} with the viewer token`).toBe(403);
        expect(viewer.json().error).toBe('FORBIDDEN');
      } else expect([200, 404], `${r.method} ${r.url} with the viewer token`).toContain(viewer.statusCode);
      const driver = await cl.c.app.inject({ method: r.method, url: r.url, payload: body, headers: { authorization: `Bearer ${cl.token}` } });
      expect(driver.statusCode, `${r.method} ${r.url} with the driver token`).not.toBe(401);
      expect(driver.statusCode).not.toBe(403);
    }
    // The pages and the health check are public.
    expect((await cl.c.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('the WebSocket: a driver with no token, a wrong one or the viewer token is refused; a node on a public mesh is not', async () => {
    for (const token of [undefined, 'wrong', VIEWER]) {
      const p = await RawPeer.open(cl.url);
      p.send({ t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token });
      const c = await p.closed;
      expect(c.code).toBe(1008);
      expect(p.error()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    await expect(connect({ url: cl.url, token: VIEWER })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const n = await HostileNode.join(cl.url, { cpus: 0 });
    expect(n.nodeId).toMatch(/^[0-9a-f]{16}$/);
    n.close();
  });

  it('answers carry security headers; the embed frame may still be framed anywhere', async () => {
    const api = await cl.c.app.inject({ method: 'GET', url: '/api/stats', headers: { authorization: `Bearer ${cl.token}` } });
    expect(api.headers['x-content-type-options']).toBe('nosniff');
    expect(String(api.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(String(api.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
    expect(api.headers['x-frame-options']).toBe('DENY');
    expect(api.headers['cache-control']).toBe('no-store');
    const err = await cl.c.app.inject({ method: 'GET', url: '/api/nodes' });
    expect(err.headers['x-content-type-options']).toBe('nosniff');
    const page = await cl.c.app.inject({ method: 'GET', url: '/' });
    if (page.statusCode === 200) {
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      // A full coordinator may send the tab on to another host of its mesh, over TLS too (COORDINATOR_FULL next=).
      expect(
        csp
          .split('; ')
          .find((d) => d.startsWith('connect-src'))
          ?.split(' '),
      ).toEqual(expect.arrayContaining(['ws:', 'wss:']));
      // Cross-origin isolated (issue 17): object bytes in SharedArrayBuffer, read by executors without a copy.
      expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(page.headers['cross-origin-embedder-policy']).toBe('require-corp');
    }
    const frame = await cl.c.app.inject({ method: 'GET', url: '/embed/frame.html' });
    if (frame.statusCode === 200) {
      expect(String(frame.headers['content-security-policy'])).toContain('frame-ancestors *');
      expect(frame.headers['x-frame-options']).toBeUndefined();
      expect(frame.headers['x-content-type-options']).toBe('nosniff');
      // Other sites' pages frame it: it must not demand what they do not send.
      expect(frame.headers['cross-origin-embedder-policy']).toBeUndefined();
    }
    const exec = await cl.c.app.inject({ method: 'GET', url: '/executor.js' });
    if (exec.statusCode === 200) {
      expect(String(exec.headers['content-security-policy'])).toContain("connect-src 'none'");
      // A worker of an isolated page loads only with a compatible embedder policy of its own.
      expect(exec.headers['cross-origin-embedder-policy']).toBe('require-corp');
    }
  });
});

describe('HTTP rate limit', () => {
  let c: RunningCoordinator;
  beforeAll(async () => {
    c = await startCoordinator({ port: 0, memory: true, token: 't', httpLimits: { max: 20, windowMs: 60_000 } });
  });
  afterAll(() => c?.close());

  it('past the limit an address gets 429 RATE_LIMITED; the health check is never limited', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 25; i++) codes.push((await fetch(`${c.url}/api/stats`, { headers: { authorization: 'Bearer t' } })).status);
    expect(codes.slice(0, 20).every((s) => s === 200)).toBe(true);
    const last = await fetch(`${c.url}/api/stats`, { headers: { authorization: 'Bearer t' } });
    expect(last.status).toBe(429);
    expect((await last.json()).error).toBe('RATE_LIMITED');
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  });
});

describe('a private mesh and token rotation', () => {
  let dir: string;
  let c: RunningCoordinator;
  const rotate = (kind: string) => {
    const r = spawnSync(process.execPath, [CLI, 'token', 'rotate', '--data', dir, '--kind', kind], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return /: (\S+)\n/.exec(r.stdout)![1];
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tabmesh-tokens-'));
    c = await startCoordinator({ port: 0, memory: true, dataDir: dir, token: 'driver-1', joinToken: 'join-1', watchTokens: ['join', 'viewer'] });
  });
  afterAll(async () => {
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a node needs the join token; a rotated one replaces it while the coordinator runs', async () => {
    for (const joinToken of [undefined, 'join-2']) {
      await expect(HostileNode.join(c.url, { joinToken })).rejects.toThrow(/UNAUTHORIZED/);
    }
    const ok = await HostileNode.join(c.url, { joinToken: 'join-1' });
    const fresh = rotate('join');
    await until(async () => {
      const n = await HostileNode.join(c.url, { joinToken: fresh }).catch(() => null);
      n?.close();
      return !!n;
    });
    await expect(HostileNode.join(c.url, { joinToken: 'join-1' })).rejects.toThrow(/UNAUTHORIZED/);
    // A node that joined before the rotation stays.
    expect(ok.peer.isClosed).toBe(false);
    ok.close();
    const events = c.coordinator.gcs.events.filter((e) => e.kind === 'token-rotated');
    expect(events.length).toBeGreaterThan(0);
    // The value is never in the event log.
    expect(JSON.stringify(c.coordinator.gcs.events)).not.toContain(fresh);
  });

  it('a viewer token written by `tabmesh token rotate --kind viewer` is accepted within a second', async () => {
    const v = rotate('viewer');
    await until(async () => (await c.app.inject({ method: 'GET', url: '/api/nodes', headers: { authorization: `Bearer ${v}` } })).statusCode === 200, {
      everyMs: 100,
      what: 'the rotated viewer token',
    });
    const w = await c.app.inject({ method: 'POST', url: '/api/jobs', payload: { source: 'return 1' }, headers: { authorization: `Bearer ${v}` } });
    expect(w.statusCode).toBe(403);
  });
});
