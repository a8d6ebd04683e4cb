// What the CLI checks before it starts something, so that a newcomer's
// mistake reads as one line naming the URL, port or file (issue 11).
import { connect, createServer } from 'node:net';
import { existsSync, statSync } from 'node:fs';
import { ConnectError, TabmeshError } from '../shared/errors.js';
import { connectFailure, parseCoordinatorUrl, type CoordinatorUrl } from '../shared/api/connect-help.js';
import { coordinatorFetch } from './http.js';

/** An error the CLI prints as its message alone (no stack): the user can act on it. */
export class CliError extends Error {
  /** The process's exit code: 1, or 2 for a mistake in the command line (as a usage error, but without the usage). */
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** `--coordinator` as given (`127.0.0.1:8080` means http://); a bad one is a usage error. */
export function coordinatorFlag(value: string, usage: (msg: string) => never): CoordinatorUrl {
  try {
    return parseCoordinatorUrl(value);
  } catch (e) {
    return usage(`--coordinator: ${(e as Error).message}`);
  }
}

/** How long `reachCoordinator` waits: for a connection, before saying it waits, for the answer (ms). */
export interface ReachTimes {
  /** For the TCP connection: nothing answering the SYN (a wrong host, a firewall) fails after this. */
  connectMs: number;
  /** For `/healthz`'s answer before one line on stderr says the coordinator is slow. */
  slowMs: number;
  /** For `/healthz`'s answer once connected: a coordinator whose loop is busy answers late, not never. */
  answerMs: number;
}

export const REACH_TIMES: ReachTimes = { connectMs: 5000, slowMs: 5000, answerMs: 60_000 };

/**
 * Asks `/healthz`: nothing listening, or something that is not a coordinator, is said plainly. First contact is
 * a TCP connection within `connectMs`; once one is made (the kernel took it: something listens there), the answer
 * is waited for up to `answerMs`, since a `tabmesh start` whose loop is busy (its local node, SQLite, a 50 MB object)
 * answers seconds late under load, and a `tabmesh submit` must not fail for that (session 35).
 */
export async function reachCoordinator(
  base: string,
  times: Partial<ReachTimes> = {},
  say: (line: string) => void = (line) => void process.stderr.write(line),
): Promise<void> {
  const t = { ...REACH_TIMES, ...times };
  await tcpReach(base, t.connectMs);
  let res: Response;
  const slow = setTimeout(
    () => say(`tabmesh: ${base} took the connection but has not answered in ${t.slowMs / 1000} s (busy?); waiting up to ${t.answerMs / 1000} s\n`),
    t.slowMs,
  );
  try {
    res = await coordinatorFetch(`${base}/healthz`, { signal: AbortSignal.timeout(t.answerMs) });
  } catch (e) {
    if ((e as Error).name === 'TimeoutError') {
      throw new ConnectError(
        'UNREACHABLE',
        base,
        `${base} took the connection but did not answer /healthz in ${t.answerMs / 1000} s: the process there is stuck or very busy; try again, or look at it`,
      );
    }
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw connectFailure(base, `${cause?.code ?? ''} ${cause?.message ?? (e as Error).message}`);
  } finally {
    clearTimeout(slow);
  }
  const body = (await res.json().catch(() => null)) as { ok?: unknown } | null;
  if (!res.ok || body?.ok !== true) {
    throw new ConnectError(
      'NOT_A_COORDINATOR',
      base,
      `${base} is not a tabmesh coordinator (its /healthz answered HTTP ${res.status}): check the host and port`,
    );
  }
}

/** A TCP connection to the URL's host and port, closed at once; the socket's error (or ETIMEDOUT) as connectFailure. */
function tcpReach(base: string, timeoutMs: number): Promise<void> {
  const u = new URL(base);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1'); // [::1] -> ::1
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(connectFailure(base, `ETIMEDOUT after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(connectFailure(base, `${e.code ?? ''} ${e.message}`));
    });
  });
}

/** Fails with a hint to use --port when another process listens on host:port already. */
export async function portFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? portBusy(host, port) : e));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

export function portBusy(host: string, port: number): CliError {
  return new CliError(`port ${port} on ${host} is in use (another \`npm start\`?): stop it, or start on another port with --port ${port + 1}`);
}

/** A job file that is there and is a file. */
export function jobFile(path: string): void {
  if (!existsSync(path)) throw new CliError(`no such file: ${path} (tabmesh submit takes the path of a .js file with the job's code)`);
  if (!statSync(path).isFile()) throw new CliError(`${path} is not a file: tabmesh submit takes the path of a .js file with the job's code`);
}

/** Errors a user can act on print their message alone; anything else is a bug and keeps its stack under TABMESH_DEBUG. */
export function oneLine(e: unknown): string {
  if (e instanceof CliError || e instanceof TabmeshError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'EADDRINUSE') return `${err.message}: start on another port with --port`;
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return `${err.message}: no permission (a port below 1024, or a folder you cannot write)`;
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(e);
  return process.env.TABMESH_DEBUG ? (err?.stack ?? msg) : `${msg} (set TABMESH_DEBUG=1 for the stack)`;
}
