// The coordinator's Fastify app: the WebSocket endpoint for drivers and
// nodes, the HTTP API, and (later) the pages.
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { Coordinator, type CoordinatorOptions } from './coordinator.js';
import { registerApi } from './http/api.js';
import { registerStatic } from './http/static.js';
import { registerHardening, type HttpLimits } from './http/hardening.js';
import { registerErrorHandler } from './http/errors.js';
import { lazyValidators } from './http/lazy-validators.js';
import type { TokenKind } from './auth/tokens.js';
import { MemoryStorage } from './gcs/memory-storage.js';
import { SqliteStorage } from './gcs/sqlite-storage.js';
import { RedisStorage, type RedisStorageOptions } from './gcs/redis-storage.js';
import { join } from 'node:path';
import { installNodeHasher } from '../edge/node-hash.js';
import { takeNodeSockets } from './http/node-socket.js';
import { acceptSessions } from './session-socket.js';
import { CoordinatorMesh } from './mesh/mesh.js';
import { TabmeshError } from '../shared/errors.js';
import { registerMeshApi } from './mesh/mesh-api.js';
import { installObservability, type DashboardOptions, type Observability } from './dashboard/index.js';

export interface ServerOptions extends Partial<CoordinatorOptions>, DashboardOptions {
  host?: string;
  port?: number;
  /** Data folder for the durable GCS; ignored with `memory`. */
  dataDir?: string;
  /** Keep the GCS in memory only (tests, benchmarks). */
  memory?: boolean;
  /** Keep the GCS in Redis (issue 15): `redis://host:port`, standalone or Cluster. */
  redis?: string | RedisStorageOptions;
  logger?: boolean;
  /** Per-address HTTP rate limit (issue 8); `false` turns it off. */
  httpLimits?: Partial<HttpLimits> | false;
  /** The URL nodes and drivers reach this coordinator at, as other coordinators of the mesh list it (default: the listening address). */
  publicUrl?: string;
  /** Follow these tokens' files in `dataDir` (`tabmesh token rotate` replaces them while running). */
  watchTokens?: TokenKind[];
  /** With `redis`: how long a hard pin waits for a live coordinator's link that is down (default TABMESH_MESH_PIN_WAIT_MS, else 30 s). */
  meshPinWaitMs?: number;
}

export interface RunningCoordinator {
  app: FastifyInstance;
  coordinator: Coordinator;
  /** State API, jobs and the dashboard (issue 7). */
  observability: Observability;
  url: string;
  /** Stops everything, each step bounded; rejects, once stopped, with what it could not flush (a Redis gone). */
  close(): Promise<void>;
}

export async function startCoordinator(opts: ServerOptions = {}): Promise<RunningCoordinator> {
  installNodeHasher();
  // Opened on the event loop: a storage thread that dies at start fails the start at once (issue 14).
  const storage =
    opts.storage ??
    (opts.redis
      ? await RedisStorage.open(typeof opts.redis === 'string' ? { url: opts.redis } : opts.redis)
      : opts.memory
        ? new MemoryStorage()
        : await SqliteStorage.open(join(opts.dataDir ?? '.tabmesh', 'gcs.sqlite')));
  // On Redis the GCS may be shared by several coordinators: one mesh (coordinator/mesh, issue 15).
  const redis = opts.redis ? (typeof opts.redis === 'string' ? { url: opts.redis } : opts.redis) : undefined;
  const coordinator = new Coordinator({ ...opts, storage, shared: opts.shared ?? !!redis });
  // forceCloseConnections: a shutdown does not wait for open browsers' keep-alive connections.
  // Tokens never reach a log: the header is redacted should logging be on.
  const app = Fastify({
    logger: opts.logger ? { redact: ['req.headers.authorization'] } : false,
    bodyLimit: 1 << 20,
    forceCloseConnections: true,
    // Schemas check input as sent: no "7" turned into 7, no unknown field dropped silently (http/schemas.ts).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // Each validator compiles at its route's first request (http/lazy-validators.ts).
    schemaController: { compilersFactory: { buildValidator: lazyValidators() } },
  });
  registerErrorHandler(app);
  await registerHardening(app, opts.httpLimits);
  const unwatch = opts.watchTokens?.length && opts.dataDir ? coordinator.tokens.watch(opts.dataDir, opts.watchTokens) : () => {};
  // ws closes frames past maxPayload itself (code 1009); below that our own
  // limit answers with an error message first. /ws upgrades skip Fastify (http/node-socket.ts).
  const maxPayload = coordinator.maxFrameBytes * 2;
  const otherUpgrades = takeNodeSockets(app.server, maxPayload, acceptSessions(coordinator));
  await app.register(websocket, { options: { maxPayload, server: otherUpgrades } });
  registerApi(app, coordinator);
  registerMeshApi(app, coordinator);
  const observability = installObservability(app, coordinator, opts);
  registerStatic(app);
  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8080 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  const mesh = redis
    ? await CoordinatorMesh.start(coordinator, {
        redis: redis.url,
        prefix: redis.prefix ?? 'tabmesh',
        url: opts.publicUrl ?? url,
        joinToken: opts.joinToken,
        recoveryGraceMs: opts.recoveryGraceMs,
        pinWaitMs: opts.meshPinWaitMs,
      })
    : undefined;
  observability.listening(url);
  return {
    app,
    coordinator,
    observability,
    url,
    async close() {
      observability.close();
      unwatch();
      // Each step is bounded (a Redis gone: mesh.ts CLOSE_WAIT_MS, the GCS thread's timeoutMs) and runs whatever the
      // one before could not do; what was not done is said at the end (the CLI prints it).
      const undone = (await mesh?.close()) ?? [];
      try {
        coordinator.close();
      } catch (e) {
        undone.push((e as Error).message);
      }
      for (const s of coordinator.sessions) s.ws.terminate();
      await app.close();
      if (undone.length > 0) throw new TabmeshError('GCS_UNAVAILABLE', `closed, but: ${undone.join('; ')}`);
    },
  };
}
