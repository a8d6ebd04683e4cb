// The thread that starts the job processes (issue 14, session 36; docs/decisions.md "Job processes start off the
// coordinator's loop"). `child_process.fork` returns only once the child has exec'd: libuv forks the whole
// coordinator (page tables of a heap of hundreds of MB) and then blocks reading a pipe until the child runs
// `execve`, which on a loaded machine waits for a core. On `tabmesh start`'s loop that was 13 s of a soak's profile
// in stretches of 3.5-5.2 s. Here that wait stops this thread only; each child's IPC, output and exit are relayed to
// the coordinator's thread (launcher.ts) as they come.
import { fork, type ChildProcess } from 'node:child_process';
import { parentPort } from 'node:worker_threads';
import type { FromLauncher, ToLauncher } from './launcher-protocol.js';

if (!parentPort) throw new Error('coordinator/jobs/launch-worker.js runs as a worker thread');
const port = parentPort;
const children = new Map<number, ChildProcess>();
const post = (m: FromLauncher): void => port.postMessage(m);

function start(id: number, file: string, execArgv: string[], first: unknown): void {
  let child: ChildProcess;
  try {
    // A process of its own with no env and no inherited flags (process.ts says why).
    child = fork(file, [], { env: {}, execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
  } catch (e) {
    post({ k: 'error', id, message: (e as Error).message });
    post({ k: 'close', id, code: null, signal: null });
    return;
  }
  children.set(id, child);
  post({ k: 'spawned', id, pid: child.pid ?? 0 });
  child.send(first as object);
  child.on('message', (m: unknown) => post({ k: 'message', id, m }));
  child.on('error', (e) => post({ k: 'error', id, message: e.message }));
  child.stdout!.on('data', (d: Buffer) => post({ k: 'out', id, text: String(d) }));
  child.stderr!.on('data', (d: Buffer) => post({ k: 'err', id, text: String(d) }));
  // 'close': after the last message and output, unlike 'exit'.
  child.on('close', (code, signal) => {
    children.delete(id);
    post({ k: 'close', id, code, signal });
  });
}

port.on('message', (m: ToLauncher) => {
  if (m.k === 'start') start(m.id, m.file, m.execArgv, m.first);
  else if (m.k === 'kill') children.get(m.id)?.kill(m.signal);
  else {
    // The coordinator closes: its job processes go with it (they would exit anyway once their IPC channel closes).
    for (const c of children.values()) c.kill('SIGKILL');
    port.close();
  }
});
