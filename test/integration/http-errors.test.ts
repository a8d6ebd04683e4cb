// Issue 12: every HTTP error is `{ "error": CODE, "message" }` from one error
// handler, with the registry's status, including what Fastify itself refuses
// (bad JSON, a wrong content type, a body over the limit, unknown routes) and
// what the route schemas refuse. Through fastify.inject on a real coordinator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mesh } from '../../shared/api/mesh.js';
import { ERRORS, type ErrorCode } from '../../shared/errors.js';
import { Cluster } from '../helpers/cluster.js';

interface Req {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  payload?: string;
  token?: string | null;
}

describe('HTTP errors', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0 });
    m = await cl.driver();
  });
  afterAll(() => cl?.stop());

  const send = async (r: Req) => {
    const token = r.token === undefined ? cl.token : r.token;
    const res = await cl.c.app.inject({
      method: r.method,
      url: r.url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...r.headers },
      payload: r.payload,
    });
    return { status: res.statusCode, body: res.body, json: () => res.json() as Record<string, unknown> };
  };

  /** The answer is exactly the envelope, with `code` and the registry's status for it. */
  const expectEnvelope = async (r: Req, code: ErrorCode, message?: RegExp) => {
    const res = await send(r);
    const body = res.json();
    expect(Object.keys(body).sort(), `${r.method} ${r.url}: ${res.body}`).toEqual(['error', 'message']);
    expect(body.error, `${r.method} ${r.url}: ${res.body}`).toBe(code);
    expect(res.status).toBe(ERRORS[code].status);
    expect(typeof body.message).toBe('string');
    if (message) expect(body.message).toMatch(message);
    return body;
  };
  const json = { 'content-type': 'application/json' };

  it('DELETE with content-type: application/json and no body simply works', async () => {
    const res = await send({ method: 'DELETE', url: `/api/jobs/${m.jobId}`, headers: json });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ id: m.jobId });
  });

  it('bodies Fastify refuses: not JSON, a wrong content type, over the limit', async () => {
    await expectEnvelope({ method: 'POST', url: '/api/jobs', headers: json, payload: '{"source": ' }, 'BAD_REQUEST', /not valid JSON/);
    await expectEnvelope({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/xml' }, payload: '<job/>' }, 'UNSUPPORTED_MEDIA_TYPE');
    // Plain text is a body, just not an object.
    await expectEnvelope(
      { method: 'POST', url: '/api/jobs', headers: { 'content-type': 'text/plain' }, payload: 'return 1' },
      'BAD_JOB',
      /must be a JSON object: send \{ "source"/,
    );
    await expectEnvelope({ method: 'POST', url: '/api/jobs', headers: json, payload: JSON.stringify({ source: 'x'.repeat(2 << 20) }) }, 'PAYLOAD_TOO_LARGE');
    await expectEnvelope({ method: 'POST', url: '/api/jobs', headers: json, payload: '{"__proto__": {"x": 1}, "source": "return 1"}' }, 'BAD_REQUEST');
  });

  it('the job schema: BAD_JOB naming the field, no coercion of wrong types', async () => {
    await expectEnvelope({ method: 'POST', url: '/api/jobs', headers: json }, 'BAD_JOB', /source/);
    await expectEnvelope({ method: 'POST', url: '/api/jobs', headers: json, payload: JSON.stringify({ name: 'x' }) }, 'BAD_JOB', /source/);
    await expectEnvelope({ method: 'POST', url: '/api/jobs', headers: json, payload: JSON.stringify({ source: '   ' }) }, 'BAD_JOB', /source/);
    await expectEnvelope(
      { method: 'POST', url: '/api/jobs', headers: json, payload: JSON.stringify({ source: 'return 1', name: 7 }) },
      'BAD_JOB',
      /name must be string/,
    );
    await expectEnvelope(
      { method: 'POST', url: '/api/jobs', headers: json, payload: JSON.stringify({ source: 'return 1', timeoutMs: '50' }) },
      'BAD_JOB',
      /timeoutMs/,
    );
    await expectEnvelope(
      { method: 'POST', url: '/api/jobs', headers: json, payload: JSON.stringify({ source: 'return 1', extra: true }) },
      'BAD_JOB',
      /additional/,
    );
  });

  it('queries and params are validated: paging, enums, required filters', async () => {
    await expectEnvelope({ method: 'GET', url: '/api/tasks?limit=abc' }, 'BAD_REQUEST', /limit/);
    await expectEnvelope({ method: 'GET', url: '/api/jobs?status=bogus' }, 'BAD_REQUEST', /status/);
    expect((await send({ method: 'GET', url: '/api/jobs?status=finished' })).status).toBe(200);
    await expectEnvelope({ method: 'GET', url: '/api/objects?minSize=-1' }, 'BAD_REQUEST', /minSize/);
    await expectEnvelope({ method: 'GET', url: '/api/nodes?kind=robot' }, 'BAD_REQUEST', /kind/);
    await expectEnvelope({ method: 'GET', url: '/api/timeline' }, 'BAD_REQUEST', /job/);
    await expectEnvelope({ method: 'GET', url: `/api/jobs/${'a'.repeat(100)}` }, 'BAD_REQUEST', /id/);
    expect((await send({ method: 'GET', url: '/api/tasks?limit=5&offset=0' })).status).toBe(200);
  });

  it('auth, unknown routes and unknown jobs answer with the envelope too', async () => {
    await expectEnvelope({ method: 'GET', url: '/api/stats', token: null }, 'UNAUTHORIZED', /Bearer/);
    await expectEnvelope({ method: 'GET', url: '/api/nodes', token: 'wrong' }, 'UNAUTHORIZED', /token is wrong/);
    await expectEnvelope({ method: 'POST', url: '/api/nope', headers: json, payload: '{}' }, 'NOT_FOUND', /POST \/api\/nope/);
    await expectEnvelope({ method: 'PUT', url: '/api/jobs' }, 'NOT_FOUND');
    await expectEnvelope({ method: 'GET', url: '/api/jobs/0000000000000000' }, 'NOT_FOUND', /no job/);
    await expectEnvelope({ method: 'GET', url: '/no-such-page.html', token: null }, 'NOT_FOUND');
  });
});
