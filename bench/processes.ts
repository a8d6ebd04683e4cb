// Child processes of a bench (the `tabmesh` CLI, so their RSS is their own):
// spawned, watched for a line, stopped; temp dirs; all killed when the bench
// exits or is interrupted, and ending by themselves when it is killed outright.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { log } from './figures.js';

/** The repository root (this file runs as dist/bench/processes.js, or from source in tests). */
export const ROOT = fileURLToPath(new URL(existsSync(fileURLToPath(new URL('../package.json', import.meta.url))) ? '..' : '../..', import.meta.url));
export const CLI = join(ROOT, 'bin/tabmesh.js');

// ---------------------------------------------------------------- processes

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Everything it printed (stdout and stderr), for diagnostics. */
  output: string[];
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (a crash: nothing is flushed or closed). */
  kill(): Promise<void>;
}

/** Children alive, killed when the bench exits: spawnCli's and those a bench forks itself (`ownChild`). */
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

/** A temp directory removed by `removeTempDir` or, at the latest, when the bench exits. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Kills whatever children are left if the bench process dies or is interrupted. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of tempDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`got ${sig}, killing children`);
      process.exit(130);
    });
  }
}

/** A child the bench started: killed if the bench exits or is interrupted first (SIGINT, SIGTERM). */
export function ownChild(proc: ChildProcess): void {
  installExitHook();
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
}

/** How often a child without an IPC channel looks whether its parent is still the one that started it. */
const PARENT_WATCH_MS = 500;
/** The bench's pid, in its CLI children's environment: one orphaned before it looked still knows its parent. */
export const PARENT_ENV = 'TABMESH_BENCH_PARENT';

/**
 * In a bench's child: ends it (`onEnd`) when the bench is gone, even a bench
 * killed with SIGKILL, whose handlers never run, and one gone before this
 * child got here. A forked child hears its IPC channel close; another sees
 * itself handed to a new parent.
 */
export function endWithParent(onEnd: () => void = () => process.exit(0)): void {
  if (process.channel || process.send) {
    if (!process.connected) return onEnd();
    process.once('disconnect', onEnd);
    return;
  }
  const parent = Number(process.env[PARENT_ENV]) || process.ppid;
  const gone = () => process.ppid !== parent;
  if (gone()) return onEnd();
  const watch = setInterval(() => {
    if (!gone()) return;
    clearInterval(watch);
    onEnd();
  }, PARENT_WATCH_MS);
  watch.unref();
}

/** Preloaded into CLI children (`node --import`): they call endWithParent themselves (dist/bench/with-parent.js). */
const WITH_PARENT = fileURLToPath(new URL('./with-parent.js', import.meta.url));

/**
 * Node options for a child, for diagnostics: BENCH_CPU_PROF=<folder> makes
 * every child write V8 CPU profiles there when it stops (--cpu-prof), in a
 * folder named after the child (coordinator, node0, ...), one file a thread
 * (CPU.<date>.<time>.<pid>.<tid>.<seq>: tid 0 is the main thread); BENCH_COORDINATOR_NODE_ARGS (space
 * separated) go to the coordinator's node only, e.g. to try V8 flags; BENCH_NODE_ARGS to the edge nodes'.
 * BENCH_VERBOSE=1 prints every child's output (e.g. `--trace-gc` among those flags).
 */
function profileArgs(name: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  // A folder per child, V8's own file names (pid.tid): a fixed name made its worker threads (storage, executors) overwrite the main thread's.
  const prof = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}/${name}-${process.pid}-${Date.now()}`] : [];
  const flags = name === 'coordinator' ? process.env.BENCH_COORDINATOR_NODE_ARGS : name.startsWith('node') ? process.env.BENCH_NODE_ARGS : undefined;
  const extra = (flags ?? '').split(' ').filter(Boolean);
  return [...prof, ...extra];
}

/** Starts `node bin/tabmesh.js ...args` as a child process. */
export function spawnCli(name: string, args: string[], opts: { quiet?: boolean } = {}): Child {
  const watch = existsSync(WITH_PARENT) ? ['--import', pathToFileURL(WITH_PARENT).href] : [];
  const proc = spawn(process.execPath, [...watch, ...profileArgs(name), CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [PARENT_ENV]: String(process.pid) },
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    const s = String(d);
    output.push(s);
    if (output.length > 2000) output.splice(0, output.length - 1000);
    if (!opts.quiet || process.env.BENCH_VERBOSE === '1') for (const line of s.split('\n')) if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let stopping = false;
  const child: Child = {
    name,
    proc,
    output,
    // A child writing its CPU profile (BENCH_CPU_PROF) needs longer to exit.
    stop: async (graceMs = process.env.BENCH_CPU_PROF ? 20_000 : 3000) => {
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
    },
    kill: async () => {
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
  ownChild(proc);
  proc.once('exit', (code, signal) => {
    if (!stopping) log(`UNEXPECTED: ${name} (pid ${proc.pid}) exited: code ${code} signal ${signal}; last output:\n${output.join('').slice(-4000)}`);
  });
  return child;
}

/** Resolves with the first stdout line matching `re`, rejects if the child exits or `timeoutMs` passes. */
export function waitForLine(child: Child, re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = child.output.join('');
    const check = (): boolean => {
      for (const line of buf.split('\n')) {
        const m = re.exec(line);
        if (m) {
          cleanup();
          resolve(m);
          return true;
        }
      }
      return false;
    };
    const onData = (d: Buffer) => {
      buf += String(d);
      check();
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${child.name} exited (code ${code}, signal ${signal}) before printing ${re}:\n${child.output.join('')}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name} did not print ${re} within ${timeoutMs} ms:\n${child.output.join('')}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.proc.stdout!.off('data', onData);
      child.proc.off('exit', onExit);
    };
    child.proc.stdout!.on('data', onData);
    child.proc.once('exit', onExit);
    check();
  });
}
