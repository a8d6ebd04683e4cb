// A detached job: a driver in a worker thread. The program (the body of an
// async function) runs in its own V8 context that sees a `mesh` facade, a
// `console` that streams to the dashboard, and timers: no `process`, no
// `require`, no `import()`. See docs/decisions.md "Jobs run as detached
// drivers in worker threads" for what this isolates and what it does not.
import { parentPort, workerData } from 'node:worker_threads';
import vm from 'node:vm';
import { inspect } from 'node:util';
import { connect } from '../../edge/index.js';
import { esbuildBundler } from '../../edge/bundler.js';
import type { DriverCore } from '../../shared/api/driver.js';
import type { FromJobWorker, JobWorkerData } from './protocol.js';
import { syntaxErrorAt } from './syntax.js';

if (!parentPort) throw new Error('coordinator/jobs/worker.js runs as a worker thread');
const port = parentPort;
const data = workerData as JobWorkerData;
const post = (m: FromJobWorker) => port.postMessage(m);

const MAX_RESULT_CHARS = 64 * 1024;
const MAX_LINE_CHARS = 4096;

function format(args: unknown[]): string {
  const s = args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 4, breakLength: 120 }))).join(' ');
  return s.length > MAX_LINE_CHARS ? s.slice(0, MAX_LINE_CHARS) + '…' : s;
}

/** JSON for the result: Maps, Sets, BigInts and typed arrays made readable, cut at 64 KiB. */
export function resultJson(v: unknown): string {
  const json =
    JSON.stringify(v === undefined ? null : v, (_k, x: unknown) => {
      if (typeof x === 'bigint') return x.toString();
      if (x instanceof Map) return Object.fromEntries(x);
      if (x instanceof Set) return [...x];
      if (ArrayBuffer.isView(x) && !(x instanceof DataView)) return Array.from(x as unknown as ArrayLike<number>).slice(0, 10_000);
      if (x instanceof Error) return { name: x.name, message: x.message };
      return x;
    }) ?? 'null';
  return json.length > MAX_RESULT_CHARS ? JSON.stringify({ truncated: true, preview: json.slice(0, MAX_RESULT_CHARS) }) : json;
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

async function main(): Promise<void> {
  // Runtime envs: the job's own (resolved at submit), and packages its program declares, from the coordinator's folder, no files.
  const mesh = await connect({ url: data.url, token: data.credential, runtimeEnv: data.runtimeEnv, bundler: esbuildBundler({ files: false }) });
  post({ k: 'connected', jobId: mesh.jobId });
  (mesh.core as DriverCore).onLog = (m) => post({ k: 'log', level: m.level, text: `[${m.fn}@${m.node}] ${m.text}` });
  const line = (level: 'log' | 'warn' | 'error') => (...a: unknown[]) => post({ k: 'log', level, text: format(a) });
  const jobConsole = { log: line('log'), info: line('log'), debug: line('log'), warn: line('warn'), error: line('error') };
  const context = vm.createContext(
    { console: jobConsole, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, TextEncoder, TextDecoder },
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
    post({ k: 'error', ...at, stack: '' });
    return void (await mesh.close());
  }
  closeConstructors();
  try {
    const value = await program();
    post({ k: 'result', json: resultJson(value) });
  } catch (e) {
    const err = e as Error;
    const remote = (e as { remoteMessage?: string; remoteName?: string }).remoteMessage;
    post({ k: 'error', name: String(err?.name ?? 'Error'), message: String(remote ? `${err.message}` : err?.message ?? e), stack: String(err?.stack ?? '') });
  } finally {
    await mesh.close();
  }
}

main().catch((e: Error) => post({ k: 'error', name: e.name, message: e.message, stack: e.stack ?? '' }));
