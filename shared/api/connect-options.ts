// What connect() takes: where the coordinators are, the token, timeouts,
// output and warning sinks, peer links, verification, runtime envs, namespace.
import type { WebSocketCtor } from './socket.js';
import type { OutputLine } from './output.js';
import type { PeerFactory } from '../transfer/raw-peer.js';
import type { VerifyOptions } from './types.js';
import type { EnvBundler, ResolvedEnv, RuntimeEnv } from '../env/env.js';

export interface ConnectOptions {
  /**
   * The coordinator's URL, e.g. http://127.0.0.1:8080 (`127.0.0.1:8080` means
   * http://; the dashboard's address with its `#token=…` works too). Several
   * coordinators of one mesh (issue 15): a list, or URLs separated by commas;
   * the driver connects to the first that answers and, when its connection
   * drops, resumes its job through the next ones in turn.
   */
  url: string | string[];
  /** The driver token the coordinator printed (default: the URL's `#token=`). */
  token?: string;
  /** A WebSocket class, where the platform has none (the Node entry passes `ws`). */
  WebSocket?: WebSocketCtor;
  /** Give up connecting after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** After a dropped connection, keep trying to resume the job this long. Default 60 s. */
  reconnectTimeoutMs?: number;
  /** The cap of the waits between reconnect tries (full jitter), in ms from 100 to 600000. Default 5 s (BACKOFF.driverReconnect). */
  reconnectMaxMs?: number;
  /** Where tasks' console output goes; by default printed here, repeated lines deduplicated. */
  onOutput?: (line: OutputLine) => void;
  /**
   * WebRTC peer links (issue 4): a driver fetches large results from their
   * holders and serves its large puts over them. The Node entry passes one
   * (`false` turns it off); without one, objects move through the relay.
   */
  peers?: PeerFactory | false;
  /**
   * Caps what this driver uploads over peer links (its puts served to
   * readers), in MiB/s, across all its links (issue 17). Its readers then
   * take the rest from each other. Default: no cap.
   */
  maxUploadMiBps?: number;
  /** Verified execution for every task of this job (issue 8); a task's own `verify` wins. */
  verify?: VerifyOptions;
  /** Why work waits (a task no node can run; actors holding every CPU); by default printed with console.warn. */
  onWarning?: (code: string, message: string) => void;

  /** Packages, ES modules and WebAssembly every task of this job may load (issue 16); a function's own are added to these. */
  runtimeEnv?: RuntimeEnv | ResolvedEnv;
  /** Bundles packages of runtime envs; the Node entry passes esbuild's. */
  bundler?: EnvBundler;
  /** Ray's namespace: where this job's actor names live and are looked up (default: the mesh's shared namespace ''). */
  namespace?: string;
  /** The coordinator's frames come as records (frame-records.ts): the Node entry passes true; a page's CSP refuses their readers. */
  records?: boolean;
  /** Take small results straight from the nodes that ran them (shared/protocol/shortcut.ts): the Node entry passes true (with peer links). */
  shortcut?: boolean;
  /** With `shortcut`: push plain sequential tasks straight to a node this driver holds a lease on (shared/protocol/direct.ts): the Node entry passes true unless TABMESH_DIRECT=0 (`direct: false` turns it off). */
  direct?: boolean;
  /**
   * Task groups (issue 14, shared/protocol/group.ts): this driver's calls of one remote function in one turn travel
   * as one group where the coordinator takes them (default; `false`: every task alone).
   */
  groups?: boolean;
}
