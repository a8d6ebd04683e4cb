// A raw driver or node socket to a real coordinator (white-box tests of the coordinator's side of a protocol):
// it sends hand-made messages and keeps what comes back.
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { childTaskId, rootTaskId, type JobId, type TaskId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { until } from './poll.js';
import { taskSpec } from './task-record.js';

export interface RawClient {
  ws: WebSocket;
  msgs: Msg[];
  welcome: MsgOf<'welcome'>;
  send(...m: Msg[]): void;
  /** The messages of kind `t` received so far. */
  of<K extends Msg['t']>(t: K): MsgOf<K>[];
  /** Waits until `cond` holds over what came. */
  until(cond: () => boolean, what?: string): Promise<void>;
  close(): Promise<void>;
}

export async function rawClient(url: string, hello: Partial<MsgOf<'hello'>> & { role: 'driver' | 'node' }): Promise<RawClient> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  const msgs: Msg[] = [];
  ws.on('message', (d: Buffer) => msgs.push(...decodeFrame(new Uint8Array(d))));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  const send = (...m: Msg[]) => ws.send(encodeFrame(m));
  send({ t: 'hello', version: PROTOCOL_VERSION, ...hello } as Msg);
  await until(() => msgs.some((m) => m.t === 'welcome' || m.t === 'error'), { timeoutMs: 10_000, everyMs: 10, what: () => 'welcome' });
  const welcome = msgs.find((m) => m.t === 'welcome') as MsgOf<'welcome'>;
  if (!welcome) throw new Error(`no welcome: ${JSON.stringify(msgs)}`);
  return {
    ws,
    msgs,
    welcome,
    send,
    of: <K extends Msg['t']>(t: K) => msgs.filter((m) => m.t === t) as MsgOf<K>[],
    until: async (cond, what = 'condition') =>
      void (await until(cond, { timeoutMs: 10_000, everyMs: 10, what: () => `${what}: ${JSON.stringify(msgs.map((m) => m.t))}` })),
    close: () =>
      new Promise<void>((r) => {
        if (ws.readyState === ws.CLOSED) return r();
        ws.once('close', () => r());
        ws.close(1000);
      }),
  };
}

/** A raw node of `cpus` CPUs. */
export function rawNode(url: string, name: string, cpus = 2, groups = true): Promise<RawClient> {
  return rawClient(url, { role: 'node', node: { kind: 'edge', name, resources: { cpu: cpus }, storeBytes: 1 << 30 }, ...(groups ? { groups: true } : {}) });
}

/** A function's source message and id. */
export function rawFn(source: string, name = 'f'): MsgOf<'fn'> {
  const f = { kind: 'function' as const, name, source };
  return { t: 'fn', f: { ...f, fnId: functionIdOf(f) } };
}

/** A group's submitGroup of job `job`, members `first`.. with these argument lists. */
export function rawGroup(job: JobId, fn: MsgOf<'fn'>, first: number, args: Uint8Array[][], more: Partial<TaskSpec> = {}): MsgOf<'submitGroup'> {
  const spec = taskSpec(job, first, fn.f.name, { fnId: fn.f.fnId, maxRetries: 3, scheduling: undefined, ...more });
  return { t: 'submitGroup', spec, first, args };
}

/** Member `i`'s task id in a group of first index `first`. */
export function memberId(job: JobId, first: number, i: number): TaskId {
  return childTaskId(rootTaskId(job), first + i);
}
