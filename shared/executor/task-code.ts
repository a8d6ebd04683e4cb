// What an executor does with user code: compile a function's source once,
// explain a ReferenceError that names an outer variable, spot class instances
// in what a task returns, and print what it logs.
import type { Mesh } from '../api/mesh.js';
import { ObjectRef } from '../api/ref.js';
import { ActorHandleCore } from '../api/actor.js';
import { ClosureVariableError } from '../errors.js';
import type { TaskId } from '../ids.js';
import type { ExecutorEndpoint } from './protocol.js';

export type Factory = (mesh: Mesh, console: TaskConsole) => (...args: unknown[]) => unknown;

export interface TaskConsole {
  log(...a: unknown[]): void;
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
  error(...a: unknown[]): void;
  debug(...a: unknown[]): void;
}

type Print = (...a: unknown[]) => void;

/**
 * A task's `console` (issue 14): one object a task, each method made at its
 * first use (most tasks print nothing). The methods are closures, so that
 * they work unbound (`xs.forEach(console.log)`); info and debug are log.
 */
export class TaskLog implements TaskConsole {
  private logFn: Print | null = null;
  private warnFn: Print | null = null;
  private errorFn: Print | null = null;

  constructor(
    private readonly ep: ExecutorEndpoint,
    private readonly taskId: TaskId,
  ) {}

  get log(): Print {
    return (this.logFn ??= this.out('log'));
  }
  get info(): Print {
    return this.log;
  }
  get debug(): Print {
    return this.log;
  }
  get warn(): Print {
    return (this.warnFn ??= this.out('warn'));
  }
  get error(): Print {
    return (this.errorFn ??= this.out('error'));
  }

  private out(level: 'log' | 'warn' | 'error'): Print {
    return (...a: unknown[]) => this.ep.post({ k: 'log', taskId: this.taskId, level, text: a.map(show).join(' ').slice(0, 16000) });
  }
}

/** Globals a ReferenceError may name without the function being at fault. */
export const KNOWN_GLOBALS = new Set(Object.getOwnPropertyNames(globalThis));

export function compile(name: string, source: string): Factory {
  // `mesh` and `console` are parameters of the factory, so the task's code
  // sees its own. `__name` is esbuild's keepNames helper, which TS runners
  // (tsx, vitest) may leave inside a function's printed source.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- task code ships as source: compiling it is the executor's job
  return new Function('mesh', 'console', `const __name = (f) => f;\nreturn (${source}\n);\n//# sourceURL=tabmesh-task:${encodeURIComponent(name)}`) as Factory;
}

/**
 * Whether a function compiled from `source` cannot reach the task's `mesh` or
 * `console`: its source names neither, nor `arguments` (a top-level arrow
 * function's is the factory's) nor `eval` (a direct eval sees the factory's
 * scope). Conservative: a name inside a string or comment counts too.
 */
export function ownsNothing(source: string): boolean {
  return !/(^|[^\w$])(mesh|console|arguments|eval)(?![\w$])/.test(source);
}

/** Turns a ReferenceError for a name the function does not have into an error that says so (and whether it was called). */
export function explain(e: unknown, fnName: string, source = ''): unknown {
  if (e instanceof ReferenceError) {
    const m = /^(\S+) is not defined$/.exec(e.message);
    if (m && !KNOWN_GLOBALS.has(m[1])) {
      const name = m[1];
      const called = new RegExp(`(^|[^.\\w$])${name.replace(/\$/g, '\\$')}\\s*\\(`).test(source);
      const err = new ClosureVariableError(fnName, name, called);
      err.stack = `${err.name}: ${err.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`;
      return err;
    }
  }
  return e;
}

/** Types the codec keeps as they are (ARCHITECTURE.md, Values); any other prototype is lost on the way. */
const KEPT: Function[] = [Map, Set, Date, RegExp, ArrayBuffer, DataView, Error, Promise];

/** The first instance of a user class inside a value (a bounded walk), with where it is. */
export function classInstanceIn(value: unknown, budget = { n: 1000 }, path = ''): { className: string; path: string } | null {
  if (value === null || typeof value !== 'object' || --budget.n < 0) return null;
  if (ArrayBuffer.isView(value) || value instanceof ObjectRef || value instanceof ActorHandleCore) return null;
  if (KEPT.some((C) => value instanceof C)) {
    if (value instanceof Map)
      for (const [k, v] of value) {
        const r = classInstanceIn(v, budget, `${path}.get(${String(k).slice(0, 20)})`);
        if (r) return r;
      }
    if (value instanceof Set)
      for (const v of value) {
        const r = classInstanceIn(v, budget, `${path}<item>`);
        if (r) return r;
      }
    return null;
  }
  const proto = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const r = classInstanceIn(value[i], budget, `${path}[${i}]`);
      if (r) return r;
    }
    return null;
  }
  if (proto !== Object.prototype && proto !== null) return { className: String(proto?.constructor?.name || 'class'), path };
  for (const k of Object.keys(value)) {
    const r = classInstanceIn((value as Record<string, unknown>)[k], budget, `${path}.${k}`);
    if (r) return r;
  }
  return null;
}

export function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return v.stack ?? `${v.name}: ${v.message}`;
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
