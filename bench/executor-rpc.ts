// Executor messaging: what one task costs between a node's runtime and its
// executor thread, over a plain port protocol (call ids by hand) and over
// Comlink used as Comlink (methods exposed and proxied, a reply per call).
// Each task is: run → call(get) → reply(value) → done, as a task that reads
// one argument through mesh.get. Decided which one executors use (issue 12).
//
//   npm run build && node dist/bench/executor-rpc.js
//
// stdout: one JSON line per figure (baseline: Comlink); stderr: diagnostics.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { emit, figure, interleaved, log, round, runBench } from './harness.js';

const TASKS = 20_000;
const SEQUENTIAL = 2_000;
const ROUNDS = 5;
const WORKER = fileURLToPath(new URL('./rpc-worker.js', import.meta.url));

interface Side {
  /** Runs `tasks` tasks, `inFlight` at a time; resolves when every one is done. */
  run(tasks: number, inFlight: number): Promise<void>;
  stop(): Promise<void>;
}

function start(mode: 'plain' | 'comlink'): Side {
  const api = new MessageChannel();
  const host = new MessageChannel();
  const w = new Worker(WORKER, { workerData: { mode, api: api.port2, host: host.port2 }, transferList: [api.port2, host.port2] });
  const value = new Uint8Array(64);
  let onDone: (n: number) => void = () => {};
  let send: (tasks: { taskId: string; args: Uint8Array[] }[]) => void;
  if (mode === 'plain') {
    const port: MessagePort = api.port1;
    port.on('message', (m: { k: 'call'; id: number } | { k: 'done'; results: unknown[] }) => {
      if (m.k === 'call') port.postMessage({ k: 'reply', id: m.id, value });
      else onDone(m.results.length);
    });
    send = (tasks) => port.postMessage({ k: 'run', tasks });
  } else {
    Comlink.expose({ call: () => value, done: (results: unknown[]) => onDone(results.length) }, nodeEndpoint(host.port1));
    const remote = Comlink.wrap<{ run(tasks: unknown[]): void }>(nodeEndpoint(api.port1));
    send = (tasks) => void remote.run(tasks);
  }
  let seq = 0;
  return {
    run: (tasks, inFlight) =>
      new Promise<void>((resolve) => {
        let sent = 0;
        let done = 0;
        const more = () => {
          for (; sent < tasks && sent - done < inFlight; sent++) send([{ taskId: `t${seq++}`, args: [value] }]);
        };
        onDone = (n) => {
          done += n;
          if (done === tasks) resolve();
          else more();
        };
        more();
      }),
    stop: async () => {
      api.port1.close();
      host.port1.close();
      await w.terminate();
    },
  };
}

async function main(): Promise<void> {
  const plain = start('plain');
  const comlink = start('comlink');
  try {
    await plain.run(2_000, 256); // warm-up
    await comlink.run(2_000, 256);
    const many = await interleaved(ROUNDS, { plain: () => plain.run(TASKS, 256), comlink: () => comlink.run(TASKS, 256) });
    const one = await interleaved(ROUNDS, { plain: () => plain.run(SEQUENTIAL, 1), comlink: () => comlink.run(SEQUENTIAL, 1) });
    const perTask = (xs: number[], n: number) => (Math.min(...xs) * 1000) / n;
    for (const [name, xs, n] of [
      ['pipelined', many, TASKS],
      ['sequential', one, SEQUENTIAL],
    ] as const) {
      const p = perTask(xs.plain, n);
      const c = perTask(xs.comlink, n);
      log(
        `${name}: plain ${round(p, 2)} µs/task, comlink ${round(c, 2)} µs/task (rounds ms plain ${xs.plain.map((x) => round(x, 0))}, comlink ${xs.comlink.map((x) => round(x, 0))})`,
      );
      emit(figure(`executor-rpc ${name} plain port`, round(p, 2), 'µs/task', round(c, 2)));
    }
  } finally {
    await plain.stop();
    await comlink.stop();
  }
}

runBench(main);
