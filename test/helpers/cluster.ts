// A real cluster for integration tests: an in-process coordinator (real
// Fastify, real WebSockets) and edge nodes as separate processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCoordinator, type RunningCoordinator, type ServerOptions } from '../../coordinator/server.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ConnectOptions } from '../../shared/api/driver.js';
import { until } from './poll.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'bin/tabmesh.js');

export interface EdgeProcess {
  proc: ChildProcess;
  output: string[];
  /** Its spill folder. */
  dir: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export class Cluster {
  readonly nodes: EdgeProcess[] = [];
  readonly meshes: Mesh[] = [];
  private dirs: string[] = [];
  private constructor(
    readonly c: RunningCoordinator,
    readonly token: string,
  ) {}

  static async start(opts: ServerOptions & { nodes?: number; cpus?: number } = {}): Promise<Cluster> {
    const token = 'test-token-' + Math.random().toString(36).slice(2);
    const c = await startCoordinator({ port: 0, memory: true, token, heartbeatMs: 500, ...opts });
    const cl = new Cluster(c, token);
    try {
      for (let i = 0; i < (opts.nodes ?? 1); i++) await cl.addNode({ cpus: opts.cpus ?? 2 });
    } catch (e) {
      // The caller never gets the cluster to stop: a coordinator and nodes left here would run on beside every
      // later file of a `shared` worker (a failed join left three coordinators to fault/actors, session 36).
      await cl.stop();
      throw e;
    }
    return cl;
  }

  get url(): string {
    return this.c.url;
  }

  /** `spillDir`: the folder of an earlier node (a restarted node keeps its disk). */
  async addNode(
    o: {
      cpus?: number;
      storeMb?: number;
      name?: string;
      spillDir?: string;
      envCacheMb?: number;
      resources?: Record<string, number>;
      /** `--max-upload-mibps` (issue 17). */
      maxUploadMiBps?: number;
      /** Node.js flags (before the CLI), and environment variables added to the test's. */
      nodeArgs?: string[];
      env?: Record<string, string>;
    } = {},
  ): Promise<EdgeProcess> {
    const dir = o.spillDir ?? mkdtempSync(join(tmpdir(), 'tabmesh-node-'));
    if (!o.spillDir) this.dirs.push(dir);
    const before = this.c.coordinator.gcs.nodes.size;
    const args = [CLI, 'node', '--coordinator', this.url, '--cpus', String(o.cpus ?? 2), '--spill-dir', dir];
    if (o.storeMb) args.push('--store-mb', String(o.storeMb));
    if (o.envCacheMb) args.push('--env-cache-mb', String(o.envCacheMb));
    if (o.name) args.push('--name', o.name);
    if (o.resources) args.push('--resources', JSON.stringify(o.resources));
    if (o.maxUploadMiBps !== undefined) args.push('--max-upload-mibps', String(o.maxUploadMiBps));
    const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: o.env ? { ...process.env, ...o.env } : process.env,
    });
    const output: string[] = [];
    proc.stdout.on('data', (d) => output.push(String(d)));
    proc.stderr.on('data', (d) => output.push(String(d)));
    const ep: EdgeProcess = {
      proc,
      output,
      dir,
      kill: (signal = 'SIGKILL') =>
        new Promise((resolve) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
          proc.once('exit', () => resolve());
          proc.kill(signal);
        }),
    };
    this.nodes.push(ep);
    // 60 s: a node process's start and join took more than 20 s at load 45+ (session 32); a fast join pays nothing.
    await this.until(
      () => this.c.coordinator.gcs.nodes.size > before,
      60_000,
      () => `node did not join: ${output.join('')}`,
    );
    return ep;
  }

  async driver(more: Partial<ConnectOptions> = {}): Promise<Mesh> {
    const m = await connect({ ...more, url: this.url, token: this.token });
    this.meshes.push(m);
    return m;
  }

  async until(cond: () => boolean, ms = 10_000, why: () => string = () => 'condition'): Promise<void> {
    await until(cond, { timeoutMs: ms, everyMs: 20, what: why });
  }

  async stop(): Promise<void> {
    await Promise.all(this.meshes.map((m) => m.close().catch(() => {})));
    await Promise.all(this.nodes.map((n) => n.kill('SIGKILL')));
    await this.c.close();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
