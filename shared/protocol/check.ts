// A small validator toolkit for the wire boundary: each checker returns null
// when the input has its shape, or a message naming the path that does not.
// Types are inferred from the checkers, so a message kind is declared once.
// Composite checkers give their parts the path '' and prefix it on an error
// only: a valid message (the hot path, every frame) builds no path strings.

export type Check<T> = ((x: unknown, path: string) => string | null) & { readonly __t?: T };
export type Infer<C> = C extends Check<infer T> ? T : never;

function make<T>(fn: (x: unknown, path: string) => string | null): Check<T> {
  return fn;
}

export const str = (max = 1 << 20): Check<string> =>
  make((x, p) => (typeof x !== 'string' ? `${p}: expected a string` : x.length > max ? `${p}: string longer than ${max}` : null));

export const num: Check<number> = make((x, p) => (typeof x === 'number' && Number.isFinite(x) ? null : `${p}: expected a finite number`));

/** A finite number in [min, max]. */
export const numIn = (min: number, max: number): Check<number> =>
  make((x, p) => (typeof x === 'number' && x >= min && x <= max ? null : `${p}: expected a number in [${min}, ${max}]`));

export const int = (min = 0, max = Number.MAX_SAFE_INTEGER): Check<number> =>
  make((x, p) => (typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max ? null : `${p}: expected an integer in [${min}, ${max}]`));

export const bool: Check<boolean> = make((x, p) => (typeof x === 'boolean' ? null : `${p}: expected a boolean`));

export const bytes = (max: number): Check<Uint8Array> =>
  make((x, p) => (!(x instanceof Uint8Array) ? `${p}: expected bytes` : x.byteLength > max ? `${p}: ${x.byteLength} bytes, more than ${max}` : null));

const HEX_RE = /^[0-9a-f]+$/;
/** A hex id of exactly `n` bytes. */
export const id = <T extends string>(n: number): Check<T> =>
  make((x, p) => (typeof x === 'string' && x.length === n * 2 && HEX_RE.test(x) ? null : `${p}: expected a ${n}-byte hex id`));

export const lit = <L extends string | number>(...values: L[]): Check<L> =>
  make((x, p) => (values.includes(x as L) ? null : `${p}: expected one of ${values.join(', ')}`));

export const opt = <T>(c: Check<T>): Check<T | undefined> => make((x, p) => (x === undefined || x === null ? null : c(x, p)));

export const arr = <T>(c: Check<T>, max: number): Check<T[]> =>
  make((x, p) => {
    if (!Array.isArray(x)) return `${p}: expected an array`;
    if (x.length > max) return `${p}: ${x.length} items, more than ${max}`;
    for (let i = 0; i < x.length; i++) {
      const e = c(x[i], '');
      if (e) return `${p}[${i}]${e}`;
    }
    return null;
  });

/** A string-keyed record of values of one kind. */
export const dict = <T>(c: Check<T>, maxKeys: number): Check<Record<string, T>> =>
  make((x, p) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) return `${p}: expected an object`;
    // Own keys walked twice rather than listed: a submit's resources pass here (issue 14: Object.keys was an array a task).
    let n = 0;
    for (const k in x) if (Object.hasOwn(x, k)) n++;
    if (n > maxKeys) return `${p}: more than ${maxKeys} keys`;
    for (const k in x) {
      if (!Object.hasOwn(x, k)) continue;
      if (k.length > 128) return `${p}: key longer than 128`;
      const e = c((x as Record<string, unknown>)[k], '');
      if (e) return `${p}.${k}${e}`;
    }
    return null;
  });

type OptKeys<S> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** Fields whose checker accepts undefined are optional. */
type ObjOf<S extends Record<string, Check<unknown>>> = Simplify<{ [K in Exclude<keyof S, OptKeys<S>>]: Infer<S[K]> } & { [K in OptKeys<S>]?: Infer<S[K]> }>;

/** An object of exactly these fields: unknown fields are refused (they would ride along into the GCS). */
export const obj = <S extends Record<string, Check<any>>>(shape: S): Check<ObjOf<S>> => {
  // The fields and their checkers as arrays, the known names in a prototype-less table: every
  // message passes here, and lookups in `shape` by a name that changes at each step cost
  // ~40% of a submit's check (issue 14).
  const keys = Object.keys(shape);
  const checks = keys.map((k) => shape[k]);
  const known: Record<string, true | undefined> = Object.create(null);
  for (const k of keys) known[k] = true;
  return make(compiledObj(keys, checks, known) ?? loopObj(keys, checks, known));
};

/** `obj`'s checker as a loop over its fields (where compiledObj makes none: a page). */
function loopObj(keys: string[], checks: Check<unknown>[], known: Record<string, true | undefined>): (x: unknown, p: string) => string | null {
  return (x, p) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) return `${p}: expected an object`;
    for (let i = 0; i < keys.length; i++) {
      const e = checks[i]((x as Record<string, unknown>)[keys[i]], '');
      if (e) return `${p}.${keys[i]}${e}`;
    }
    for (const k in x) if (known[k] !== true) return `${p}: unknown field '${k.slice(0, 64)}'`;
    return null;
  };
}

/**
 * Whether checkers are written out as code (compiledObj): on Node (the coordinator, edge nodes, Node drivers) only.
 * A page's CSP may refuse code made from strings, and a refusal is reported as a violation even when caught.
 */
let COMPILE = typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

/** For bench/wire-checks: whether checkers made from now on are written out as code (false: the loop, as pages run). */
export function setCompiledChecks(on: boolean): void {
  COMPILE = on;
}

/**
 * `obj`'s checker written out for its fields (Node only: COMPILE). The same checks in the same order, but each field
 * read by its name, which V8 caches per shape, and each field's checker called from a call site of its own, where
 * the loop's `x[keys[i]]` is a lookup by a name that changes at each step (issue 14, session 22). The names are the
 * shape's own, as JSON string literals; nothing of the input goes into the code. Null where it cannot be made.
 */
function compiledObj(
  keys: string[],
  checks: Check<unknown>[],
  known: Record<string, true | undefined>,
  compile?: boolean,
): ((x: unknown, p: string) => string | null) | null {
  if (!(compile ?? COMPILE)) return null;
  const lines = keys.map((_, i) => `const c${i} = c[${i}];`);
  lines.push(
    'return function check(x, p) {',
    '  if (typeof x !== "object" || x === null || Array.isArray(x) || x instanceof Uint8Array) return p + ": expected an object";',
    '  let e;',
  );
  for (let i = 0; i < keys.length; i++) {
    const k = JSON.stringify(keys[i]);
    lines.push(`  e = c${i}(x[${k}], "");`, `  if (e) return p + "." + ${k} + e;`);
  }
  lines.push('  for (const k in x) if (known[k] !== true) return p + ": unknown field \'" + k.slice(0, 64) + "\'";', '  return null;', '};');
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- code of the schema's own field names (JSON literals), no input
    return new Function('c', 'known', lines.join('\n'))(checks, known) as (x: unknown, p: string) => string | null;
  } catch {
    return null;
  }
}

/** One of several object shapes, told apart by their literal field `tag`. */
export const tagged = <C extends Check<any>>(tag: string, cases: Record<string, C>): Check<Infer<C>> => {
  // The cases in a Map, made once: every message passes here, and a lookup by a kind that changes at each message
  // in an object of ~60 keys (Object.hasOwn, then the read) cost more than one Map.get (issue 14, session 22).
  const table = new Map<string, C>(Object.entries(cases));
  return make((x, p) => {
    if (typeof x !== 'object' || x === null) return `${p}: expected an object`;
    const k = (x as Record<string, unknown>)[tag];
    const c = typeof k === 'string' ? table.get(k) : undefined;
    return c ? c(x, p) : `${p}.${tag}: unknown kind ${JSON.stringify(k)?.slice(0, 40)}`;
  });
};

export const either = <A, B>(a: Check<A>, b: Check<B>): Check<A | B> =>
  make((x, p) => {
    const ea = a(x, p);
    if (!ea) return null;
    const eb = b(x, p);
    return eb ? ea : null;
  });

/** For tests: `obj`'s two ways of checking, made from the same fields (compiledObj's whatever the platform). */
export const objCheckers = (shape: Record<string, Check<unknown>>) => {
  const keys = Object.keys(shape);
  const checks = keys.map((k) => shape[k]);
  const known: Record<string, true | undefined> = Object.create(null);
  for (const k of keys) known[k] = true;
  return { compiled: compiledObj(keys, checks, known, true), loop: loopObj(keys, checks, known) };
};
