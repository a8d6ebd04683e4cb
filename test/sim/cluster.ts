// A whole mesh in one thread on a simulated network: the real Coordinator
// (memory GCS, scheduler, directory, lineage), real NodeRuntimes with their
// executors' core run in-thread, and real drivers; between them, fake
// WebSockets whose per-direction delays come from one seeded generator and
// which the test can cut. Used with vitest's fake clock, a run is a function
// of its seed.
import { Coordinator, type CoordinatorOptions } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { Session } from '../../coordinator/session.js';
import { connect } from '../../shared/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { SocketFields, type WebSocketCtor, type WebSocketLike } from '../../shared/api/socket.js';
import { ExecutorCore } from '../../shared/executor/core.js';
import type { FromExecutor, ToExecutor } from '../../shared/executor/protocol.js';
import { runsOf } from '../../shared/executor/columns.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import { seeded } from './net.js';

const OPEN = 1;
const CLOSED = 3;

/** One direction of a connection: ordered (as TCP is), each message late by a seeded hop. */
class Lane {
  private last = 0;
  constructor(private readonly sim: SimMesh) {}
  carry(f: () => void): void {
    const now = Date.now();
    this.last = Math.max(this.last, now + this.sim.hop());
    setTimeout(f, this.last - now);
  }
}

/** The coordinator's end: what Session and the server use of a `ws` socket. */
class ServerEnd {
  readonly OPEN = OPEN;
  readyState = OPEN;
  bufferedAmount = 0;
  client!: ClientEnd;
  constructor(private readonly lane: Lane) {}
  /** Fragments of a message sent so far (`fin: false`), as `ws` takes them. */
  private parts: Uint8Array[] = [];
  send(frame: Uint8Array, opts?: { fin?: boolean }): void {
    if (this.readyState !== OPEN) return;
    // A relay chunk leaves as two fragments of one message (coordinator/session.ts sendChunkFrames); a client that
    // reads whole messages (a browser; `ws` in 'arraybuffer' mode, as these clients are) gets them joined.
    if (opts?.fin === false) {
      this.parts.push(frame.slice());
      return;
    }
    const parts = [...this.parts.splice(0), frame];
    const copy = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      copy.set(p, at);
      at += p.byteLength;
    }
    this.lane.carry(() => this.client.deliver(copy));
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.lane.carry(() => this.client.closedBy(code, reason));
  }
  terminate(): void {
    this.close(1006, 'terminated');
  }
}

/** A client's end: the WebSocket drivers and node runtimes are given. */
class ClientEnd extends SocketFields implements WebSocketLike {
  session: Session | null = null;
  private readonly up: Lane;

  constructor(
    private readonly sim: SimMesh,
    readonly label: string,
  ) {
    super();
    this.up = new Lane(sim);
    const server = new ServerEnd(new Lane(sim));
    server.client = this;
    sim.later(() => {
      if (this.readyState !== 0) return;
      const s = new Session(server as never, `sim:${label}`);
      this.session = s;
      sim.coordinator.sessions.add(s);
      this.readyState = OPEN;
      this.onopen?.({});
    });
    sim.sockets.add(this);
  }

  send(data: Uint8Array): void {
    if (this.readyState !== OPEN) throw new Error('socket not open');
    const copy = data.slice();
    const s = this.session!;
    this.up.carry(() => {
      if (!s.closed && this.sim.coordinator.sessions.has(s)) this.sim.coordinator.onFrame(s, copy);
    });
  }

  close(code = 1000): void {
    if (this.readyState === CLOSED) return;
    const s = this.session;
    this.readyState = CLOSED;
    if (s) this.up.carry(() => this.sim.coordinator.onClose(s, code));
    this.sim.later(() => this.onclose?.({ code, reason: '' }));
  }

  deliver(frame: Uint8Array): void {
    if (this.readyState === OPEN) this.onmessage?.({ data: frame });
  }

  closedBy(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    if (this.session) this.sim.coordinator.onClose(this.session, code);
    this.onclose?.({ code, reason });
  }

  /** The network drops the connection: both sides see it at once (code 1006). */
  cut(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    if (this.session) this.sim.coordinator.onClose(this.session, 1006);
    this.onclose?.({ code: 1006, reason: 'cut' });
  }
}

/** Executors whose core runs in this thread; messages are cloned and late by a turn, as a worker's are. */
function inThreadExecutors(sim: SimMesh, name: string): SpawnExecutor {
  return (_index, onMessage, _onExit) => {
    let toCore: ((m: ToExecutor) => void) | null = null;
    let dead = false;
    new ExecutorCore({
      post: (m: FromExecutor) => {
        const copy = structuredClone(m);
        setTimeout(() => !dead && onMessage(copy), 0);
      },
      onMessage: (h) => (toCore = h),
    });
    return {
      post: (m) => {
        if (m.k === 'run' || m.k === 'runs')
          for (const t of m.k === 'run' ? m.tasks : runsOf(m.c)) sim.ran(t.taskId, `${Date.now()} run ${t.name} ${t.taskId}#${t.attempt} on ${name}/${_index}`);
        const copy = structuredClone(m);
        setTimeout(() => !dead && toCore?.(copy), 0);
      },
      terminate: () => {
        dead = true;
      },
    };
  };
}

export interface SimNode {
  runtime: NodeRuntime;
  name: string;
  socket: ClientEnd;
}

export class SimMesh {
  readonly rand: () => number;
  readonly coordinator: Coordinator;
  readonly sockets = new Set<ClientEnd>();
  readonly nodes: SimNode[] = [];
  /** How many times executors were told to run each task; and each run, for a failing seed's story. */
  readonly runsByTask = new Map<string, number>();
  private lastSocket: ClientEnd | null = null;

  constructor(
    seed: number,
    private readonly latency: [number, number] = [1, 5],
    opts: Partial<CoordinatorOptions> = {},
  ) {
    this.rand = seeded(seed);
    // Task groups on (opt-in in the product): the simulator's seeds run the group path too.
    this.coordinator = new Coordinator({ storage: new MemoryStorage(), heartbeatMs: 500, deadAfterMs: 2500, jobGraceMs: 5000, groups: true, ...opts });
  }

  hop(): number {
    const [lo, hi] = this.latency;
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  later(f: () => void): void {
    setTimeout(f, this.hop());
  }

  readonly log: string[] = [];
  ran(taskId: string, line: string): void {
    this.log.push(line);
    this.runsByTask.set(taskId, (this.runsByTask.get(taskId) ?? 0) + 1);
  }

  /** A WebSocket class whose instances connect through this network. */
  socketClass(label: string): WebSocketCtor {
    const sim = this;
    return class {
      constructor(_url: string) {
        const end = new ClientEnd(sim, label);
        sim.lastSocket = end;
        return end;
      }
    } as unknown as WebSocketCtor;
  }

  /** Starts a node with `cpus` in-thread executors; resolves once it is welcomed. `kind`: what it says it is (a tab: 'browser'). */
  async addNode(cpus: number, name = `node${this.nodes.length}`, kind: 'edge' | 'browser' = 'edge'): Promise<SimNode> {
    const runtime = new NodeRuntime(
      { url: 'http://sim', kind, name, cpus, storeBytes: 64 << 20 },
      { WebSocket: this.socketClass(name), spawnExecutor: inThreadExecutors(this, name) },
    );
    const socket = this.lastSocket!;
    const node = { runtime, name, socket };
    this.nodes.push(node);
    await runtime.ready;
    return node;
  }

  /** Connects a driver (no peer links: large objects go through the relay). `groups: false`: each task goes alone (no task groups). */
  driver(label = 'driver', o: { groups?: boolean } = {}): Promise<Mesh> {
    return connect({ url: 'http://sim', WebSocket: this.socketClass(label), peers: false, reconnectTimeoutMs: 10_000, ...o });
  }

  /** The network drops a node's connection: the coordinator sees it die. */
  kill(node: SimNode): void {
    this.log.push(`${Date.now()} cut ${node.name} (${node.runtime.nodeId})`);
    node.socket.cut();
  }

  close(): void {
    for (const s of this.sockets) s.cut();
    this.coordinator.close();
  }
}
