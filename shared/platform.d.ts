// shared/ compiles without DOM or Node types (tsconfig.shared.json); these are
// the few globals every platform we run on (Node 20, browsers, workers) has.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}
declare const crypto: { getRandomValues<T extends ArrayBufferView>(array: T): T };
declare const console: {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
};
// Arguments after `ms` are passed to `fn` (HTML's timers and Node's alike): a timer without a closure of its own.
declare function setTimeout(fn: (...args: any[]) => void, ms?: number): unknown;
declare function setTimeout<A extends [unknown, ...unknown[]]>(fn: (...args: A) => void, ms: number, ...args: A): unknown;
declare function clearTimeout(handle: unknown): void;
declare function setInterval(fn: () => void, ms?: number): unknown;
declare function clearInterval(handle: unknown): void;
declare function queueMicrotask(fn: () => void): void;
declare const performance: { now(): number };
declare class FinalizationRegistry<T> {
  constructor(cleanup: (held: T) => void);
  register(target: object, held: T, token?: object): void;
  unregister(token: object): boolean;
}
declare class WeakRef<T extends object> {
  constructor(target: T);
  deref(): T | undefined;
}
declare class URL {
  constructor(url: string, base?: string);
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
  readonly username: string;
  readonly password: string;
  readonly pathname: string;
  readonly search: string;
  readonly hash: string;
}
declare class URLSearchParams {
  constructor(init?: string);
  get(name: string): string | null;
}

/** Runtime envs (issue 16): what shared/ needs of WebAssembly; DOM and Node types merge with it. */
declare namespace WebAssembly {
  interface Module {}
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
}
