// The options of the Redis GCS (issue 15): a `--redis` URL checked, numbers
// in range, a key prefix that cannot break the key layout; and a URL made
// fit for messages (no password).
import { TabmeshError } from '../../shared/errors.js';

export interface RedisStorageOptions {
  /** `redis://[user:password@]host:port`; a Cluster behind it is found by itself. */
  url: string;
  /** Key prefix, so several meshes can share one Redis. Default `tabmesh`. */
  prefix?: string;
  /** Delay between the first buffered change and the automatic flush. Default 20 (as SQLite: a task submitted and freed within it costs nothing). */
  flushIntervalMs?: number;
  /** Flush at once when this many changes are pending. Default 20000. */
  maxBuffered?: number;
  /** How long to wait for Redis on load and on an explicit flush or close. Default 10000. */
  timeoutMs?: number;
  /** How long to wait for the worker to start and connect. Default 15000. */
  connectTimeoutMs?: number;
}

/** Checks a `--redis` URL; throws BAD_ARGUMENT with the reason. */
export function parseRedisUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TabmeshError('BAD_ARGUMENT', `--redis must be a URL like redis://127.0.0.1:6379, not '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new TabmeshError('BAD_ARGUMENT', `--redis must be a redis:// or rediss:// URL, not '${url}'`);
  }
  if (!u.hostname) throw new TabmeshError('BAD_ARGUMENT', `--redis '${url}' has no host`);
  return u;
}

/** The options with their defaults, checked; throws BAD_ARGUMENT with the reason. */
export function checkedOptions(opts: RedisStorageOptions): Required<RedisStorageOptions> {
  parseRedisUrl(opts.url);
  const prefix = opts.prefix ?? 'tabmesh';
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new TabmeshError('BAD_ARGUMENT', `the Redis key prefix must be letters, digits, '_', '.', '-', not '${prefix}'`);
  const flushIntervalMs = opts.flushIntervalMs ?? 20;
  const maxBuffered = opts.maxBuffered ?? 20000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
  if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0)
    throw new TabmeshError('BAD_ARGUMENT', `flushIntervalMs must be a number >= 0, got ${flushIntervalMs}`);
  if (!Number.isInteger(maxBuffered) || maxBuffered < 1) throw new TabmeshError('BAD_ARGUMENT', `maxBuffered must be an integer >= 1, got ${maxBuffered}`);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TabmeshError('BAD_ARGUMENT', `timeoutMs must be a number > 0, got ${timeoutMs}`);
  if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0)
    throw new TabmeshError('BAD_ARGUMENT', `connectTimeoutMs must be a number > 0, got ${connectTimeoutMs}`);
  return { url: opts.url, prefix, flushIntervalMs, maxBuffered, timeoutMs, connectTimeoutMs };
}

/** The URL without its password, for messages. */
export function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(bad URL)';
  }
}
