// Every HTTP route's schema compiles with the server's Ajv options. The server compiles a route's validators at its
// first request (coordinator/http/lazy-validators.ts, session 36), so a schema Ajv rejects would otherwise show only
// as a 500 on that route in use, not as a failed start: this file keeps that failure in CI.
import { describe, expect, it } from 'vitest';
import AjvCompiler from '@fastify/ajv-compiler';
import { schemas } from '../../coordinator/http/schemas.js';

/** As server.ts gives Fastify: input checked as sent. */
const AJV = { customOptions: { coerceTypes: false, removeAdditional: false } } as const;

function compileAll(all: Record<string, Record<string, object>>): string[] {
  const compile = AjvCompiler()({}, AJV as never);
  const compiled: string[] = [];
  for (const [route, parts] of Object.entries(all)) {
    for (const [httpPart, schema] of Object.entries(parts)) {
      const fn = compile({ schema, method: 'GET', url: `/${route}`, httpPart } as never);
      expect(typeof fn, `${route} ${httpPart}`).toBe('function');
      compiled.push(`${route}.${httpPart}`);
    }
  }
  return compiled;
}

describe('HTTP schemas', () => {
  it('every route part compiles', () => {
    const compiled = compileAll(schemas as unknown as Record<string, Record<string, object>>);
    expect(compiled).toContain('submitJob.body');
    expect(compiled).toContain('tasks.querystring');
    expect(compiled.length).toBeGreaterThanOrEqual(Object.keys(schemas).length);
  });

  it('a schema Ajv rejects fails here, not at a first request', () => {
    expect(() => compileAll({ bad: { querystring: { type: 'object', properties: { n: { type: 'strin' } } } } })).toThrow(/type/);
  });

  it('the compiled validators check input as sent (no coercion)', () => {
    const compile = AjvCompiler()({}, AJV as never);
    const v = compile({ schema: schemas.submitJob.body, method: 'POST', url: '/api/jobs', httpPart: 'body' } as never) as (d: unknown) => boolean;
    expect(v({ source: 'x' })).toBe(true);
    expect(v({ source: 'x', timeoutMs: '7' })).toBe(false);
    expect(v({ source: 'x', extra: 1 })).toBe(false);
  });
});
