// The checks and defaults between a remote call's options and its TaskSpec:
// a function's shippable source, option validation (Ray's errors), wait's
// list, scheduling and verification as the wire has them.
import { TabmeshError } from '../errors.js';
import type { TaskSpec } from '../protocol/messages.js';
import { ObjectRef } from './ref.js';
import type { ActorOptions, RemoteOptions } from './types.js';

export const DEFAULTS = { numCpus: 1, maxRetries: 3, numReturns: 1, timeoutMs: 0 };

/** Makes a function's source an expression that evaluates to the function. */
export function functionSource(fn: Function): string {
  const src = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) {
    throw new TabmeshError('BAD_ARGUMENT', `cannot ship ${fn.name || 'a function'}: native and bound functions have no source`);
  }
  if (/^class\b/.test(src)) return src;
  // Method shorthand (`{ f(x) {…} }.f`) prints as `f(x) {…}`, which is not an expression.
  if (!/^(async\s+)?function\b/.test(src) && !/^(async\s*)?(\([^)]*\)|[\w$]+)\s*=>/.test(src)) {
    const m = /^(async\s+)?(\*\s*)?([\w$]+)\s*\(/.exec(src);
    if (m) return `${m[1] ?? ''}function${m[2] ? '*' : ''} ${src.slice((m[1] ?? '').length + (m[2] ?? '').length)}`;
  }
  return src;
}

/** Ray's checks on wait's list: refs only (a TypeError there), each once (a ValueError). */
export function checkWaitRefs(refs: unknown): void {
  if (!Array.isArray(refs)) throw new TabmeshError('BAD_ARGUMENT', `wait takes an array of ObjectRefs, not ${describe(refs)}`);
  const seen = new Set<string>();
  refs.forEach((r, i) => {
    if (!(r instanceof ObjectRef)) throw new TabmeshError('BAD_ARGUMENT', `wait takes an array of ObjectRefs; element ${i} is ${describe(r)}`);
    if (seen.has(r.id)) throw new TabmeshError('BAD_ARGUMENT', `wait takes each ObjectRef once; ${r.id.slice(0, 12)} is given twice`);
    seen.add(r.id);
  });
}

/** wait's numReturns (checked against the number of refs) and timeoutMs; returns numReturns. */
export function checkWaitOptions(options: { numReturns?: number; timeoutMs?: number }, refs: number): number {
  const numReturns = options.numReturns ?? 1;
  if (!Number.isInteger(numReturns) || numReturns < 0) throw new TabmeshError('BAD_ARGUMENT', 'wait: numReturns must be a non-negative integer');
  if (numReturns > refs) throw new TabmeshError('BAD_ARGUMENT', `wait: numReturns (${numReturns}) cannot be greater than the number of refs (${refs})`);
  const t = options.timeoutMs;
  if (t !== undefined && !(typeof t === 'number' && t >= 0 && Number.isFinite(t)))
    throw new TabmeshError('BAD_ARGUMENT', 'wait: timeoutMs must be a number ≥ 0');
  return numReturns;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return `a ${typeof v}`;
}

export function normalizeScheduling(s: RemoteOptions['scheduling']): TaskSpec['scheduling'] {
  if (s === undefined || s === 'default') return undefined;
  if (s === 'spread') return 'spread';
  if (s.spill && !s.soft) throw new TabmeshError('BAD_ARGUMENT', 'scheduling: spill needs soft: true (a hard affinity waits for its node)');
  const node = s.node as TaskSpec['taskId'] & never;
  return s.spill ? { node, soft: true, spill: true } : { node, soft: s.soft ?? false };
}

export function verifyOf(v: RemoteOptions['verify']): TaskSpec['verify'] {
  if (!v || (v.replicas <= 1 && !v.adaptive)) return undefined;
  return { replicas: v.replicas, adaptive: v.adaptive || undefined };
}

export function checkNamespace(ns: unknown, what: string): void {
  if (ns !== undefined && !(typeof ns === 'string' && ns.length <= 256))
    throw new TabmeshError('BAD_ARGUMENT', `${what} must be a string of at most 256 characters`);
}

export function sumOf(all: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const r of all) for (const [k, v] of Object.entries(r)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

export function validateOptions(o: RemoteOptions): void {
  const bad = (what: string) => {
    throw new TabmeshError('BAD_ARGUMENT', `remote option ${what}`);
  };
  if (o.numCpus !== undefined && !(o.numCpus >= 0 && Number.isFinite(o.numCpus))) bad('numCpus must be a number ≥ 0');
  if (o.numReturns !== undefined && !(Number.isInteger(o.numReturns) && o.numReturns >= 0 && o.numReturns <= 1024))
    bad('numReturns must be an integer in [0, 1024]');
  if (o.maxRetries !== undefined && !(Number.isInteger(o.maxRetries) && o.maxRetries >= 0)) bad('maxRetries must be an integer ≥ 0');
  if (o.timeoutMs !== undefined && !(Number.isInteger(o.timeoutMs) && o.timeoutMs >= 0)) bad('timeoutMs must be an integer ≥ 0');
  if (o.resources) for (const [k, v] of Object.entries(o.resources)) if (!(v >= 0 && Number.isFinite(v))) bad(`resources.${k} must be a number ≥ 0`);
  if (o.verify !== undefined && !(typeof o.verify === 'object' && Number.isInteger(o.verify.replicas) && o.verify.replicas >= 1 && o.verify.replicas <= 16)) {
    bad('verify.replicas must be an integer in [1, 16]');
  }
}

/** The remote options, then the actor's own (name, maxConcurrency, lifetime, namespace). */
export function validateActorOptions(opts: ActorOptions): void {
  validateOptions(opts);
  if (opts.name !== undefined && !(typeof opts.name === 'string' && opts.name.length > 0 && opts.name.length <= 256)) {
    throw new TabmeshError('BAD_ARGUMENT', 'actor option name must be a non-empty string of at most 256 characters');
  }
  if (opts.maxConcurrency !== undefined && !(Number.isInteger(opts.maxConcurrency) && opts.maxConcurrency >= 1)) {
    throw new TabmeshError('BAD_ARGUMENT', 'actor option maxConcurrency must be an integer ≥ 1');
  }
  if (opts.lifetime !== undefined && opts.lifetime !== null && opts.lifetime !== 'detached') {
    throw new TabmeshError('BAD_ARGUMENT', "actor option lifetime must be 'detached' or null");
  }
  if (opts.lifetime === 'detached' && opts.name === undefined) {
    throw new TabmeshError('BAD_ARGUMENT', 'a detached actor needs a name: nothing could reach it once its job ends');
  }
  checkNamespace(opts.namespace, 'actor option namespace');
}
