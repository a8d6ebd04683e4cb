// The raw-client world of the task-group tests (groups-owner, groups-coordinator, groups-released, task-logs): a
// real coordinator in memory (groups on), a hand-made driver socket that sent one function, and hand-made node
// sockets added with node(). close() (in afterEach) closes the sockets, then the coordinator.
import { startCoordinator, type RunningCoordinator, type ServerOptions } from '../../coordinator/server.js';
import type { JobId } from '../../shared/ids.js';
import { rawClient, rawFn, rawNode, type RawClient } from './raw-client.js';

export class GroupWorlds {
  private rc: RunningCoordinator | null = null;
  private readonly clients: RawClient[] = [];

  /** `src`/`name`: the function the driver sends. */
  constructor(
    readonly token: string,
    private readonly src = '(x) => x * x',
    private readonly name = 'sq',
  ) {}

  async start(o: ServerOptions = {}) {
    const rc = (this.rc = await startCoordinator({ port: 0, memory: true, token: this.token, heartbeatMs: 500, deadAfterMs: 60_000, groups: true, ...o }));
    const driver = this.keep(await rawClient(rc.url, { role: 'driver', token: this.token, groups: true }));
    const job = driver.welcome.jobId as JobId;
    const fn = rawFn(this.src, this.name);
    driver.send(fn);
    return { c: rc.coordinator, url: rc.url, driver, job, fn };
  }

  async node(name: string, cpus = 2, groups = true): Promise<RawClient> {
    return this.keep(await rawNode(this.rc!.url, name, cpus, groups));
  }

  /** A socket closed with the world. */
  keep(c: RawClient): RawClient {
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    await this.rc?.close();
    this.rc = null;
  }
}
