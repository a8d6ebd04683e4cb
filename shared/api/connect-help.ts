// What a newcomer types as a coordinator URL, made into one (issue 11), and
// why a connection attempt failed, said in one line that names the URL and
// what to do. Shared by the driver API and the CLI.
import { ConnectError } from '../errors.js';

export interface CoordinatorUrl {
  /** http(s)://host:port[/base], without a trailing slash, fragment or page path. */
  base: string;
  /** A token found in the URL's fragment (the dashboard's `#token=…`). */
  token?: string;
}

/** Paths of the coordinator's pages that people copy along with its address. */
const PAGE_PATHS = /\/(dashboard|index\.html|ws)\/?$/;

/**
 * Accepts `http://h:p`, `h:p` (http assumed), `ws://h:p/ws`, and the dashboard's
 * address with its `#token=…`. Anything else is a BAD_URL error that says so.
 */
export function parseCoordinatorUrl(input: string): CoordinatorUrl {
  const raw = typeof input === 'string' ? input.trim() : '';
  if (!raw) throw new ConnectError('BAD_URL', String(input), 'no coordinator URL given: pass the address `tabmesh start` printed, e.g. http://127.0.0.1:8080');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new ConnectError('BAD_URL', raw, `'${raw}' is not a URL: give the coordinator's address, e.g. http://127.0.0.1:8080`);
  }
  const scheme = u.protocol === 'ws:' ? 'http:' : u.protocol === 'wss:' ? 'https:' : u.protocol;
  if (scheme !== 'http:' && scheme !== 'https:') {
    throw new ConnectError('BAD_URL', raw, `'${raw}' is a ${u.protocol.slice(0, -1)} URL: the coordinator speaks http(s), e.g. http://127.0.0.1:8080`);
  }
  const fragment = new URLSearchParams(u.hash.replace(/^#/, ''));
  const token = fragment.get('token') ?? undefined;
  const path = u.pathname.replace(PAGE_PATHS, '').replace(/\/+$/, '');
  return { base: `${scheme}//${u.host}${path}`, token: token || undefined };
}

/** Socket-level codes that mean nothing listens there (or it cannot be reached). */
const UNREACHABLE = /\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNRESET|ETIMEDOUT)\b/;

/**
 * Why a connection that never got its `welcome` failed. `detail` is what the
 * socket said (the `ws` package's error message; browsers give none).
 */
export function connectFailure(base: string, detail: string): ConnectError {
  const code = UNREACHABLE.exec(detail)?.[1];
  if (code) {
    const what = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'no such host' : code;
    return new ConnectError(
      'UNREACHABLE',
      base,
      `no tabmesh coordinator at ${base} (${what}): start one with \`npm start\` (or \`tabmesh start\`), or check the URL`,
    );
  }
  const status = /Unexpected server response: (\d+)/.exec(detail)?.[1];
  if (status) {
    return new ConnectError('NOT_A_COORDINATOR', base, `${base} is not a tabmesh coordinator (its /ws answered HTTP ${status}): check the host and port`);
  }
  if (/wrong version number|EPROTO|certificate|SSL/i.test(detail)) {
    return new ConnectError(
      'NOT_A_COORDINATOR',
      base,
      `${base}: TLS failed (${detail.slice(0, 120)}); a coordinator started with \`npm start\` speaks plain http://`,
    );
  }
  return new ConnectError(
    'UNREACHABLE',
    base,
    `could not reach a tabmesh coordinator at ${base}${detail ? ` (${detail.slice(0, 160)})` : ''}: is it running, and is the URL right?`,
  );
}

/** The coordinator refused the token: say which token it wants and where it is. */
export function tokenRefused(base: string, given: boolean, flag = 'connect({ token })'): ConnectError {
  return new ConnectError(
    'UNAUTHORIZED',
    base,
    given
      ? `the coordinator at ${base} refused the driver token: pass the one it printed at start (kept in .tabmesh/token) as ${flag}`
      : `the coordinator at ${base} needs a driver token: pass the one it printed at start (kept in .tabmesh/token) as ${flag}`,
  );
}
