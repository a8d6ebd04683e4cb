// A detached job: a driver in a child process of the coordinator (issue 11;
// see docs/decisions.md "Jobs run in child processes"). The program (the body
// of an async function) runs in its own V8 context that sees a `mesh` facade,
// a `console` that streams to the dashboard, and timers: no `process`, no
// `require`, no `import()`.
//
// The job's driver has no WebRTC stack: it runs beside the coordinator, so its
// large objects come and go through the coordinator's relay, which costs one
// loopback hop and no extra network. This file therefore imports the shared
// API, never edge/index.js (which loads @roamhq/wrtc through edgePeers).
import vm from 'node:vm';
import { inspect } from 'node:util';
import WebSocket from 'ws';
import { connect } from '../../shared/index.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { installNodeHasher } from '../../edge/node-hash.js';
import type { DriverCore } from '../../shared/api/driver.js';
import type { FromJobWorker, JobWorkerData, ToJobWorker } from './protocol.js';
import { esbuildBundler } from '../../edge/bundler.js';
import { syntaxErrorAt } from './syntax.js';
import { resultJson } from './result.js';

if (!process.send) throw new Error('coordinator/jobs/worker.js runs as a child process with an IPC channel');
const send = process.send.bind(process);
const post = (m: FromJobWorker): Promise<void> => new Promise((resolve) => send(m, undefined, {}, () => resolve()));
// The coordinator went (or stopped this job): so does the job.
process.on('disconnect', () => process.exit(0));

const MAX_LINE_CHARS = 4096;

function format(args: unknown[]): string {
  const s = args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 4, breakLength: 120 }))).join(' ');
  return s.length > MAX_LINE_CHARS ? s.slice(0, MAX_LINE_CHARS) + '…' : s;
}

/** After setup, nothing handed to the program leads back to this realm's Function (and so to `process`). */
function closeConstructors(): void {
  const protos = [
    Function.prototype,
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function* () {}),
  ];
  for (const p of protos) Object.defineProperty(p, 'constructor', { value: undefined, writable: false, configurable: false });
}

/**
 * The program's context gets this realm's constructors of the values the codec
 * knows, so that `new Uint8Array(n)`, `new Map()`... in a job encode as such
 * (a typed array of another realm looks like a plain object with n keys).
 */
const BUILTINS = {
  ArrayBuffer,
  DataView,
  Uint8Array,
  Uint8ClampedArray,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  Map,
  Set,
  Date,
  // Not Error: its prepareStackTrace hook would hand the program this realm's call sites.
};

async function main(data: JobWorkerData): Promise<void> {
  installNodeHasher();
  // Runtime envs: the job's own (resolved at submit), and packages its program declares, from the coordinator's folder, no files.
  const mesh = await connect({
    url: data.url,
    token: data.credential,
    WebSocket: WebSocket as unknown as WebSocketCtor,
    peers: false,
    // The coordinator that started this process is there: a slow answer means a busy event loop
    // (a 1,000-job soak at load 25-35 saw 10 s pass), not a wrong URL.
    connectTimeoutMs: 120_000,
    runtimeEnv: data.runtimeEnv,
    bundler: esbuildBundler({ files: false }),
  });
  void post({ k: 'connected', jobId: mesh.jobId });
  (mesh.core as DriverCore).onLog = (m) => void post({ k: 'log', level: m.level, text: `[${m.fn}@${m.node}] ${m.text}` });
  const line =
    (level: 'log' | 'warn' | 'error') =>
    (...a: unknown[]) =>
      void post({ k: 'log', level, text: format(a) });
  const jobConsole = { log: line('log'), info: line('log'), debug: line('log'), warn: line('warn'), error: line('error') };
  const context = vm.createContext(
    { ...BUILTINS, console: jobConsole, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, TextEncoder, TextDecoder },
    { name: `job ${data.name}`, codeGeneration: { strings: true, wasm: false } },
  );
  // The facade is made inside the program's context: its closures hide the real Mesh (and its socket).
  const facade = vm.runInContext(
    `(m) => Object.freeze({
      jobId: m.jobId,
      remote: (fn, o) => m.remote(fn, o),
      put: (v) => m.put(v),
      get: (r, o) => m.get(r, o),
      wait: (r, o) => m.wait(r, o),
      cancel: (r, o) => m.cancel(r, o),
      free: (r) => m.free(r),
    })`,
    context,
  )(mesh);
  context.mesh = facade;
  const filename = `tabmesh-job:${encodeURIComponent(data.name)}`;
  let program: () => Promise<unknown>;
  try {
    program = vm.runInContext(`(async () => {\n${data.source}\n})`, context, { filename, lineOffset: -1 }) as () => Promise<unknown>;
  } catch (e) {
    // A syntax error says where, in the job's own lines, and nothing of this worker's stack.
    const at = syntaxErrorAt(e, filename, data.source.split('\n').length);
    if (!at) throw e;
    await post({ k: 'error', ...at, stack: '' });
    return void (await mesh.close());
  }
  closeConstructors();
  try {
    const value = await program();
    await post({ k: 'result', json: resultJson(value) });
  } catch (e) {
    const err = e as Error;
    const remote = (e as { remoteMessage?: string; remoteName?: string }).remoteMessage;
    await post({
      k: 'error',
      name: String(err?.name ?? 'Error'),
      message: String(remote ? `${err.message}` : (err?.message ?? e)),
      stack: String(err?.stack ?? ''),
    });
  } finally {
    await mesh.close();
  }
}

process.once('message', (m: ToJobWorker) => {
  main(m.data)
    .catch((e: Error) => post({ k: 'error', name: e.name, message: e.message, stack: e.stack ?? '' }))
    .finally(() => process.disconnect());
});
