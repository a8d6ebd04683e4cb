// The `tabmesh` command: coordinator, node, start.
import { join } from 'node:path';
import os from 'node:os';
import type { ServerOptions } from '../coordinator/server.js';
import { runSubmit, SUBMIT_USAGE } from './submit.js';
import { readToken, resolveToken, runToken, TOKEN_USAGE } from './token.js';
import type { TokenKind } from '../coordinator/auth/tokens.js';
import { FD_RESERVE } from '../coordinator/limits/open-files.js';
import { ICE_USAGE, iceFlags, iceOptions } from './ice.js';
import { HOLD_USAGE, holdFlagOptions, holdFlags } from './hold-flags.js';
import { CliError, coordinatorFlag, oneLine, portBusy, portFree, reachCoordinator } from './reach.js';
import { compactAfterBursts, gcsTaskCounts } from './heap.js';
import { DEFAULT_HEAP_GROWTH_PERCENT, setHeapGrowth, setYoungGrowth } from './heap-flags.js';
import { gcThreadFlags } from './node-flags.js';
import { CAP_OPTION_MS } from '../shared/backoff.js';
import { closest, helpHint, parseFlags, UsageError } from './flags.js';

const COMMANDS: Record<string, string> = {
  coordinator: `  tabmesh coordinator [--host 127.0.0.1] [--port 8080] [--data .tabmesh] [--memory | --redis URL] [--token T] [--private] [--no-swarm] [--no-groups]
                 [--connections-per-address N] [--connections-per-sec N] [--connection-burst N] [--http-per-minute N]
                 [--heap-growth PERCENT] [--dead-after-ms MS] [--job-grace-ms MS]
                 (--private: nodes need the join token, kept in the data folder;
                  --redis redis://HOST:PORT: the GCS in Redis, standalone or Cluster, instead of SQLite;
                  --redis-prefix P: its keys start with P (default tabmesh), so meshes can share a Redis;
                  the per-address limits let many volunteers share one NAT address: open connections, new
                  connections per second and in a burst, HTTP requests a minute, /ws upgrades not counted; 0 = no HTTP limit;
                  --heap-growth: how far V8's heap grows past the last full GC, in percent (default 100; 0 = V8's own);
                  --dead-after-ms: a node silent this long is dead (default 5000; benches on a starved host give more);
                  --job-grace-ms: how long a job waits for its driver after a dropped connection or a restart, and
                  (up to 10 s) recovered objects and a let-go actor for their claims (default 20000);
                  --no-groups: a driver's calls of one function in one turn travel as plain tasks, not as a task group
                  (docs/decisions.md "Task groups"; on by default);
                  node's own flags go before the script, e.g. \`node --v8-pool-size=1 bin/tabmesh.js coordinator\`, or in
                  NODE_OPTIONS where Node takes them: /api/stats shows v8PoolSize and singleThreadedGc)
${ICE_USAGE}
${HOLD_USAGE}`,
  node: `  tabmesh node --coordinator URL[,URL2,...] [--cpus N] [--store-mb M] [--spill-dir D] [--env-cache-mb M] [--name NAME] [--join-token T] [--resources JSON] [--max-upload-mibps R] [--rejoin-max-ms MS]
                 (--rejoin-max-ms: the longest wait between tries to join again after its coordinator went, default 5000)`,
  start: `  tabmesh start [--host 127.0.0.1] [--port 8080] [--data .tabmesh] [--memory | --redis URL] [--cpus N] [--private]
                 (a coordinator and one local edge node; the coordinator's other flags too, e.g. --dead-after-ms, --hold-share)`,
  submit: SUBMIT_USAGE,
  token: TOKEN_USAGE,
};

/**
 * How long `tabmesh coordinator` may take to stop on a signal: above the sum of its bounded steps (a mesh's Redis
 * goodbyes and its work under way, 2 s each; the GCS thread's last writes, the Redis timeout of 10 s).
 */
const STOP_BOUND_MS = 25_000;

const USAGE = `usage:\n${Object.values(COMMANDS).join('\n')}`;

/** A usage error of `cmd`: one line naming what is wrong, pointing to its --help (cli/flags.ts). */
function usageOf(cmd?: string): (msg?: string) => never {
  return (msg?: string) => {
    throw new UsageError(msg ? `${msg} (${helpHint(cmd)})` : USAGE, cmd);
  };
}

function int(v: string | undefined, name: string, min: number, max: number, usage: (msg: string) => never): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

const coordinatorOptions = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  data: { type: 'string', default: '.tabmesh' },
  memory: { type: 'boolean', default: false },
  redis: { type: 'string' },
  'redis-prefix': { type: 'string' },
  token: { type: 'string' },
  private: { type: 'boolean', default: false },
  'connections-per-address': { type: 'string' },
  'connections-per-sec': { type: 'string' },
  'connection-burst': { type: 'string' },
  'http-per-minute': { type: 'string' },
  'heap-growth': { type: 'string' },
  'dead-after-ms': { type: 'string' },
  'job-grace-ms': { type: 'string' },
  ...iceOptions,
  ...holdFlagOptions,
  'no-swarm': { type: 'boolean', default: false },
  'no-groups': { type: 'boolean', default: false },
  /** Groups are on by default; the flag is kept so that scripts that turned them on still run. */
  groups: { type: 'boolean', default: false },
} as const;

/** Per-address limits from the command line (issue 14); unset ones keep their defaults. */
function limitFlags(
  values: { [K in 'connections-per-address' | 'connections-per-sec' | 'connection-burst' | 'http-per-minute']?: string },
  usage: (msg: string) => never,
): Pick<ServerOptions, 'limits' | 'httpLimits'> {
  const limits: NonNullable<ServerOptions['limits']> = {};
  const perAddress = int(values['connections-per-address'], 'connections-per-address', 1, 10_000_000, usage);
  const perSec = int(values['connections-per-sec'], 'connections-per-sec', 1, 10_000_000, usage);
  const burst = int(values['connection-burst'], 'connection-burst', 1, 10_000_000, usage);
  const http = int(values['http-per-minute'], 'http-per-minute', 0, 100_000_000, usage);
  if (perAddress !== undefined) limits.connectionsPerAddress = perAddress;
  if (perSec !== undefined) limits.connectionsPerSecPerAddress = perSec;
  if (burst !== undefined) limits.connectionsBurstPerAddress = burst;
  return { limits, httpLimits: http === undefined ? {} : http === 0 ? false : { max: http } };
}

async function runCoordinator(args: string[], withNode: boolean): Promise<void> {
  const cmd = withNode ? 'start' : 'coordinator';
  const usage: (msg?: string) => never = usageOf(cmd);
  const { values } = parseFlags(cmd, {
    args,
    options: { ...coordinatorOptions, ...(withNode ? { cpus: { type: 'string' } } : {}) },
    strict: true,
    allowPositionals: false,
  });
  const port = int(values.port, 'port', 0, 65535, usage)!;
  const deadAfterMs = int(values['dead-after-ms'], 'dead-after-ms', 1000, 600_000, usage);
  // 5000: the dead window's default with the default heartbeat (coordinator.ts), as --help says.
  const hold = holdFlags(values, deadAfterMs ?? 5000, usage);
  setHeapGrowth(int(values['heap-growth'], 'heap-growth', 0, 1000, usage) ?? DEFAULT_HEAP_GROWTH_PERCENT);
  // The heap compaction after each burst shrinks the young generation: the next burst regrows it in one step.
  setYoungGrowth();
  // Loaded here, not at the top: a mistyped command answers without loading the coordinator and WebRTC.
  const [{ startCoordinator }, { parseRedisUrl, redacted }] = await Promise.all([
    import('../coordinator/server.js'),
    import('../coordinator/gcs/redis-storage.js'),
  ]);
  // Before the data folder is opened: a second `npm start` must not touch the first one's GCS.
  await portFree(values.host, port);
  if (values.redis !== undefined) {
    if (values.memory) usage('--memory and --redis are exclusive');
    try {
      parseRedisUrl(values.redis);
    } catch (e) {
      usage((e as Error).message);
    }
  } else if (values['redis-prefix'] !== undefined) usage('--redis-prefix needs --redis');
  const redis = values.redis === undefined ? undefined : { url: values.redis, prefix: values['redis-prefix'] };
  let ice;
  try {
    ice = iceFlags(values);
  } catch (e) {
    usage((e as Error).message);
  }
  const token = resolveToken('driver', values.token, values.data, values.memory);
  const joinToken = values.private ? resolveToken('join', undefined, values.data, values.memory) : undefined;
  const viewerToken = values.memory ? undefined : readToken(values.data, 'viewer');
  // Tokens that live in files follow `tabmesh token rotate` while running.
  const watchTokens: TokenKind[] = values.memory ? [] : [...(values.token ? [] : ['driver' as const]), 'viewer', ...(values.private ? ['join' as const] : [])];
  const c = await startCoordinator({
    host: values.host,
    port,
    dataDir: values.data,
    memory: values.memory,
    redis,
    token,
    joinToken,
    viewerToken,
    watchTokens,
    ice,
    swarm: !values['no-swarm'],
    groups: !values['no-groups'],
    deadAfterMs,
    hold,
    jobGraceMs: int(values['job-grace-ms'], 'job-grace-ms', 1000, 3_600_000, usage),
    ...limitFlags(values, usage),
  }).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'EADDRINUSE' ? portBusy(values.host, port) : e;
  });
  console.log(`tabmesh coordinator listening on ${c.url}`);
  console.log(`  GCS: ${values.memory ? 'in memory' : values.redis ? `Redis ${redacted(values.redis)}` : join(values.data, 'gcs.sqlite')}`);
  console.log(`  driver token: ${token}`);
  const maxSessions = c.coordinator.limits.limits.maxSessions;
  // Node starts with its soft open-file limit raised to the hard one: only a higher hard limit (root with
  // CAP_SYS_RESOURCE: `ulimit -Hn`, systemd LimitNOFILE) or another coordinator holds more (issue 14).
  if (maxSessions < 25_000)
    console.log(
      `  connections: at most ${maxSessions} (the hard open-file limit less ${FD_RESERVE} for its own files; more: raise \`ulimit -Hn\` before starting, or add a coordinator on the same Redis)`,
    );
  console.log(`  connect: connect({ url: '${c.url}', token: '${token}' })`);
  console.log(`  dashboard: ${c.url}/dashboard#token=${encodeURIComponent(token)}`);
  if (joinToken) {
    console.log(`  private mesh: nodes need the join token ${joinToken}`);
    console.log(`  volunteer page: ${c.url}/?join=${encodeURIComponent(joinToken)}`);
  }
  const compactor = compactAfterBursts(gcsTaskCounts(c.coordinator.gcs), { atStart: true });
  c.coordinator.addStats(() => compactor.stats());
  // V8's GC threads as node was started (cli/node-flags.ts): fixed for the process's life.
  const gcThreads = gcThreadFlags(process.execArgv, process.env.NODE_OPTIONS);
  c.coordinator.addStats(() => ({ ...gcThreads }));
  let stopping = false;
  const stop = async (signal: string) => {
    // A second signal while stopping: the operator means it.
    if (stopping) return void (console.error(`tabmesh: ${signal} again: stopping now`), process.exit(1));
    stopping = true;
    compactor.stop();
    // The close's own steps are bounded (coordinator/server.ts); this bounds what none of them saw coming.
    setTimeout(() => (console.error(`tabmesh: not stopped ${STOP_BOUND_MS} ms after ${signal}: stopping now`), process.exit(1)), STOP_BOUND_MS).unref();
    try {
      await c.close();
    } catch (e) {
      console.error(`tabmesh: stopped on ${signal}; ${(e as Error).message}`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (withNode) {
    const cpusFlag = (values as { cpus?: string }).cpus;
    const cpus = int(cpusFlag, 'cpus', 1, 1024, usage) ?? Math.max(1, os.availableParallelism() - 1);
    const { startEdgeNode } = await import('../edge/node.js');
    const node = await startEdgeNode({ coordinator: c.url, cpus, name: `local:${process.pid}`, joinToken });
    console.log(`  local edge node ${node.nodeId} with ${cpus} executor(s)`);
  }
}

/** `--resources '{"gpu": 1}'` (Ray's `ray start --resources`): custom resources this node offers besides its CPUs. */
function customResources(json: string, usage: (msg: string) => never): Record<string, number> {
  let r: unknown;
  try {
    r = JSON.parse(json);
  } catch {
    return usage(`--resources takes a JSON object of counts, e.g. '{"gpu": 1}' (got ${json.slice(0, 40)})`);
  }
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return usage(`--resources takes a JSON object of counts, e.g. '{"gpu": 1}'`);
  for (const [k, v] of Object.entries(r)) {
    if (k === 'cpu') usage('--resources: give CPUs with --cpus');
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) usage(`--resources: ${k} must be a number ≥ 0`);
  }
  return r as Record<string, number>;
}

async function runNode(args: string[]): Promise<void> {
  const usage: (msg?: string) => never = usageOf('node');
  const { values } = parseFlags('node', {
    args,
    options: {
      coordinator: { type: 'string' },
      cpus: { type: 'string' },
      'store-mb': { type: 'string' },
      'spill-dir': { type: 'string' },
      'env-cache-mb': { type: 'string' },
      name: { type: 'string' },
      'join-token': { type: 'string' },
      resources: { type: 'string' },
      'max-upload-mibps': { type: 'string' },
      'rejoin-max-ms': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.coordinator) usage('--coordinator URL is required');
  const upload = values['max-upload-mibps'];
  const maxUploadMiBps = upload === undefined ? undefined : Number(upload);
  if (maxUploadMiBps !== undefined && !(Number.isFinite(maxUploadMiBps) && maxUploadMiBps > 0 && maxUploadMiBps <= 1 << 20))
    usage('--max-upload-mibps must be a number of MiB/s in (0, 1048576]');
  const resources = values.resources === undefined ? undefined : customResources(values.resources, usage);
  // Several coordinators of one mesh (issue 15): URL1,URL2,... (the node joins another when its own goes).
  const bases = values.coordinator.split(',').map((u) => coordinatorFlag(u.trim(), usage).base);
  const flags = {
    cpus: int(values.cpus, 'cpus', 1, 1024, usage),
    storeMb: int(values['store-mb'], 'store-mb', 1, 1 << 20, usage),
    spillDir: values['spill-dir'],
    envCacheMb: int(values['env-cache-mb'], 'env-cache-mb', 1, 1 << 20, usage),
    name: values.name,
    joinToken: values['join-token'],
    resources,
    maxUploadMiBps,
    rejoinMaxMs: int(values['rejoin-max-ms'], 'rejoin-max-ms', CAP_OPTION_MS.min, CAP_OPTION_MS.max, usage),
  };
  let base = bases[0];
  for (let i = 0; ; i++) {
    try {
      await reachCoordinator(bases[i]);
      base = bases[i];
      break;
    } catch (e) {
      if (i === bases.length - 1) throw e;
    }
  }
  const options = { ...flags, coordinator: [base, ...bases.filter((b) => b !== base)] };
  const { startEdgeNode } = await import('../edge/node.js');
  const node = await startEdgeNode(options).catch((e: Error) => {
    // The coordinator closes a refused node's socket with its error code as the reason.
    if (!/\bUNAUTHORIZED\b/.test(e.message)) throw e;
    throw new CliError(
      values['join-token']
        ? `the coordinator at ${base} refused the join token given with --join-token: use the one in its data folder's join-token file (or its /?join= address)`
        : `the coordinator at ${base} is a private mesh: pass its join token with --join-token (its data folder's join-token file, or the /?join= address it printed)`,
    );
  });
  // A full coordinator may have sent it on to another of its mesh.
  console.log(`tabmesh node ${node.nodeId} joined ${node.coordinatorUrl} with ${node.runtime.local.count} executor(s)`);
  node.onEvent = (e) => console.log(`[node] ${e}`);
  const leave = () => void node.leave().then(() => process.exit(0));
  process.on('SIGINT', leave);
  process.on('SIGTERM', leave);
  const why = await node.left;
  console.error(`tabmesh node: ${why}`);
  process.exit(1);
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  try {
    // `tabmesh CMD --help`: that command's usage (before `--`, after which a dash is an argument).
    const flags = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
    if (cmd in COMMANDS && (flags.includes('--help') || flags.includes('-h'))) {
      console.log(`usage:\n${COMMANDS[cmd]}`);
      return;
    }
    switch (cmd) {
      case 'coordinator':
        return await runCoordinator(rest, false);
      case 'start':
        return await runCoordinator(rest, true);
      case 'node':
        return await runNode(rest);
      case 'submit':
        process.exit(await runSubmit(rest, usageOf('submit')));
      case 'token':
        process.exit(runToken(rest, usageOf('token')));
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return;
      default: {
        if (!cmd) usageOf()();
        const near = closest(cmd.replace(/^-+/, ''), Object.keys(COMMANDS));
        usageOf()(`unknown command '${cmd}'${near ? `: did you mean \`tabmesh ${near}\`?` : ''}`);
      }
    }
  } catch (e) {
    if (e instanceof UsageError) {
      // The whole usage only when nothing was asked; a mistake is one line.
      console.error(e.message === USAGE ? USAGE : `tabmesh: ${e.message}`);
      process.exit(2);
    }
    console.error(`tabmesh: ${oneLine(e)}`);
    process.exit(e instanceof CliError ? e.exitCode : 1);
  }
}
