// An actor waiting for its node after a coordinator restart (issue 15) is
// claimed back only by the process that hosted it: a node that names the
// actor with another key is told to stop its copy (`killActor`), is not given
// the actor's calls, and the actor is lost (no restarts: dead) once its
// grace passes without its real host.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { startEdgeNode, type EdgeNode } from '../../edge/node.js';
import { connect } from '../../edge/index.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg } from '../../shared/protocol/messages.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { until } from '../helpers/poll.js';

class Counter {
  n = 0;
  inc(): number {
    return ++this.n;
  }
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe('actor handover', () => {
  it('a node naming an awaited actor with the wrong key is told to stop its copy and gets none of its calls', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tabmesh-handover-'));
    cleanups.push(() => rmSync(data, { recursive: true, force: true }));
    const opts = { dataDir: data, port: 0, token: 't', httpLimits: false as const, recoveryGraceMs: 3000 };
    const first: RunningCoordinator = await startCoordinator(opts);
    const node: EdgeNode = await startEdgeNode({ coordinator: first.url, cpus: 1, reconnect: false });
    cleanups.push(() => node.leave());
    const m: Mesh = await connect({ url: first.url, token: 't', reconnectTimeoutMs: 60_000 });
    cleanups.push(() => m.close());
    const counter = m.remote(Counter).remote();
    expect(await m.get(counter.inc.remote())).toBe(1);
    const id = counter.actorId;
    await first.close(); // its node leaves for good (reconnect off): nobody holds the real key any more

    const second = await startCoordinator(opts);
    cleanups.push(() => second.close());
    const c = second.coordinator;
    expect(c.actors.get(id as never)?.state).toBe('restarting'); // read back, waiting for its host

    const ws = new WebSocket(second.url.replace('http', 'ws') + '/ws');
    cleanups.push(() => ws.close());
    const got: Msg[] = [];
    ws.on('message', (d: Buffer) => got.push(...decodeFrame(new Uint8Array(d))));
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const node2 = { kind: 'edge', name: 'impostor', resources: { cpu: 1 }, storeBytes: 0, host: { key: 'not-the-hosts-key', actors: [id] } };
    ws.send(encodeFrame([{ t: 'hello', role: 'node', version: PROTOCOL_VERSION, node: node2 } as unknown as Msg]));
    await until(() => got.some((x) => x.t === 'killActor' && x.id === id), { timeoutMs: 10_000, what: 'the impostor to be told to stop its copy' });
    expect(c.actors.get(id as never)?.node).toBeNull();
    // No host came with the right key: the actor (no restarts) dies, and the impostor never got a call.
    // (Its driver does not resume here either: its handle's hold lapses too, which may remove the record outright.)
    await until(() => [undefined, 'dead'].includes(c.actors.get(id as never)?.state), { timeoutMs: 15_000, what: 'the unclaimed actor to die' });
    expect(got.some((x) => x.t === 'assign')).toBe(false);
  }, 120_000);
});
