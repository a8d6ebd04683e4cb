// The driver's own CPU per batch task with task groups against the per-task path (issue 14, session 26), in one
// process: a driver submits N empty tasks in one turn and gets them, against a stand-in coordinator in the same
// process that answers at once (a groupReady per group, or a ready per subscribed task). The stand-in's own work
// (decoding the driver's frames, encoding its answers) is timed and taken out. Rounds alternate groups on / off;
// prints one JSON line per mode and the ratio.
//   node dist/bench/driver-groups.js   (DRIVER_GROUPS_N=20000, DRIVER_GROUPS_ROUNDS=9, DRIVER_GROUPS_ONLY=on|off,
//   DRIVER_GROUPS_SEQ=1 for sequential round trips)
import { connect, type Mesh, type ObjectRef } from '../shared/index.js';
import { encodeValue } from '../shared/codec.js';
import { newJobId } from '../shared/ids.js';
import { SocketFields, type WebSocketLike } from '../shared/api/socket.js';
import { decodeFrame, encodeFrame } from '../shared/protocol/frame.js';
import type { Msg, MsgOf } from '../shared/protocol/messages.js';

const N = Number(process.env.DRIVER_GROUPS_N ?? 20_000);
const ROUNDS = Number(process.env.DRIVER_GROUPS_ROUNDS ?? 9);
/** `on` / `off`: one mode only (a profile of one path); default both, alternated. */
const ONLY = process.env.DRIVER_GROUPS_ONLY;
/** DRIVER_GROUPS_SEQ=1: N sequential round trips (submit, get, free) instead of one batch. */
const SEQUENTIAL = process.env.DRIVER_GROUPS_SEQ === '1';
const nothing = encodeValue(undefined).bytes;

/** A coordinator that answers at once; `spent` is the ms it worked (taken out of the driver's figure). */
function standIn(groups: boolean): { Ws: new (url: string) => WebSocketLike; spent: () => number; frames: () => number } {
  let spent = 0;
  let framesIn = 0;
  class Ws extends SocketFields implements WebSocketLike {
    constructor() {
      super();
      setTimeout(() => ((this.readyState = 1), this.onopen?.({})), 0);
    }
    send(data: Uint8Array): void {
      // Its CPU, not its wall time: a loaded machine's descheduled time is not the stand-in's work.
      const t = process.cpuUsage();
      framesIn++;
      const out: Msg[] = [];
      for (const m of decodeFrame(data)) {
        if (m.t === 'hello') out.push({ t: 'welcome', jobId: newJobId(), secret: 's', inlineMax: 65536, heartbeatMs: 1000, groups: groups || undefined });
        else if (m.t === 'sync') out.push(m);
        else if (m.t === 'submitGroup') {
          const idx = m.args.map((_, i) => i);
          out.push({ t: 'groupReady', g: m.spec.taskId, ok: idx, v: idx.map(() => nothing) } satisfies MsgOf<'groupReady'>);
        } else if (m.t === 'subscribe') for (const id of m.ids) out.push({ t: 'ready', id, v: nothing, size: nothing.byteLength });
      }
      const frames: Uint8Array[] = [];
      for (let i = 0; i < out.length; i += 256) frames.push(encodeFrame(out.slice(i, i + 256)));
      const d = process.cpuUsage(t);
      spent += (d.user + d.system) / 1000;
      if (frames.length) queueMicrotask(() => frames.forEach((f) => this.onmessage?.({ data: f })));
    }
    close(): void {
      setTimeout(() => ((this.readyState = 3), this.onclose?.({ code: 1000, reason: '' })), 0);
    }
  }
  return { Ws, spent: () => spent, frames: () => framesIn };
}

async function round(groups: boolean): Promise<number> {
  const s = standIn(groups);
  const mesh: Mesh = await connect({ url: 'http://127.0.0.1:1', WebSocket: s.Ws, peers: false, groups });
  const noop = mesh.remote(() => {});
  // Warm: one batch not counted.
  await mesh.get(Array.from({ length: 2000 }, () => noop.remote()));
  const spent0 = s.spent();
  const frames0 = s.frames();
  const cpu0 = process.cpuUsage();
  if (SEQUENTIAL) {
    // Round trips one after the other: groups must cost this path nothing (a group of one goes alone).
    for (let i = 0; i < N; i++) {
      const r = noop.remote();
      await mesh.get(r);
      mesh.free(r);
    }
  } else {
    const refs: ObjectRef<void>[] = [];
    for (let i = 0; i < N; i++) refs.push(noop.remote());
    await mesh.get(refs);
  }
  const c = process.cpuUsage(cpu0);
  const ms = (c.user + c.system) / 1000 - (s.spent() - spent0);
  if (process.env.DRIVER_GROUPS_FRAMES) console.error(`${groups ? 'groups' : 'per-task'}: ${((s.frames() - frames0) / N).toFixed(3)} frames a task`);
  await mesh.close();
  return (ms / N) * 1000;
}

const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
const on: number[] = [];
const off: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternated, the order flipped each round.
  for (const g of r % 2 ? [false, true] : [true, false]) if (!ONLY || ONLY === (g ? 'on' : 'off')) (g ? on : off).push(await round(g));
}
const fmt = (a: number[]) => (a.length ? { median: +med(a).toFixed(2), min: +Math.min(...a).toFixed(2), max: +Math.max(...a).toFixed(2) } : {});
console.log(
  JSON.stringify({ bench: 'driver-groups', figure: 'driver CPU ms per 1,000 tasks, groups', sequential: SEQUENTIAL, tasks: N, rounds: ROUNDS, ...fmt(on) }),
);
console.log(
  JSON.stringify({ bench: 'driver-groups', figure: 'driver CPU ms per 1,000 tasks, per-task', sequential: SEQUENTIAL, tasks: N, rounds: ROUNDS, ...fmt(off) }),
);
console.log(JSON.stringify({ bench: 'driver-groups', figure: 'ratio groups / per-task (median)', ratio: +(med(on) / med(off)).toFixed(3) }));
