// A real TURN server for tests (issue 17): Debian's coturn on this machine's
// first non-loopback address (inside the tests' network namespace), with the
// REST API's shared secret (use-auth-secret), its own temp folder, a random
// listening port and relay port range. No fake TURN.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './poll.js';

export const TURNSERVER = process.env.TURNSERVER ?? 'turnserver';

export interface TurnServer {
  /** `turn:ip:port`, to hand to the coordinator. */
  url: string;
  secret: string;
  /** Everything it logged so far (one line per authenticated request, with its user). */
  log(): string;
  stop(): Promise<void>;
}

/** The first non-loopback IPv4 address: what peers reach the server at. */
export function hostAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('no non-loopback IPv4 address: run this inside the network namespace (scripts/in-netns.sh)');
}

export async function startTurn(secret: string): Promise<TurnServer> {
  const ip = hostAddress();
  const dir = mkdtempSync(join(tmpdir(), 'tabmesh-turn-'));
  const logFile = join(dir, 'turn.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + output.join('');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const minPort = 41000 + Math.floor(Math.random() * 200) * 100;
  const args = [
    // A log file, not stdout: coturn does not flush its stdout into a pipe.
    ...['-n', '-v', '--no-cli', '--no-tls', '--no-dtls', '--simple-log', '--log-file', logFile],
    ...['--listening-ip', ip, '--relay-ip', ip, '--listening-port', String(port)],
    ...['--min-port', String(minPort), '--max-port', String(minPort + 99)],
    ...['--realm', 'tabmesh.test', '--use-auth-secret', '--static-auth-secret', secret],
    ...['--pidfile', join(dir, 'turn.pid'), '--userdb', join(dir, 'turndb')],
  ];
  const proc: ChildProcess = spawn(TURNSERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  proc.stdout!.on('data', (d) => output.push(String(d)));
  proc.stderr!.on('data', (d) => output.push(String(d)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => proc.exitCode === null && /Total General servers/.test(log()), {
      timeoutMs: 15_000,
      what: () => `turnserver to start: ${log().slice(-2000)}`,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `turn:${ip}:${port}`, secret, log, stop };
}
