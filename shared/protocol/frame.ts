// Frames: a msgpack array of messages. Everything a side sends within one
// event-loop turn leaves in one frame (split when it grows past FRAME_SOFT_MAX
// bytes or FRAME_MAX_MSGS messages); an idle side's within one task.
import { Packr } from 'msgpackr';
import { ProtocolError } from '../errors.js';
import { MAX_BATCH, messageCheck, type Msg, type MsgOf, type TaskSpec } from './messages.js';
import { nextTurn } from '../turn.js';
import { decodeRecordsFrame, encodeRecordsFrame, RECORDS_MARK, worthRecords } from './frame-records.js';
import { CHUNK_MARK, chunkHead, decodeChunkFrame, fitsChunkFrame, isChunkParts, type FrameIn } from './chunk-frame.js';

const framePackr = new Packr({ useRecords: false, mapsAsObjects: true, structuredClone: false });
/** A frame is closed and sent once its payload estimate passes this. */
export const FRAME_SOFT_MAX = 1 << 20;
/**
 * A frame is closed and sent once it holds this many messages (issue 14): a
 * frame is decoded and checked in one go, so a driver's turn of 20,000 submits
 * sent as one frame held the coordinator's loop for one decode of them all
 * (8,192 submits, 2 MB, ~100 ms under load); its handling is sliced
 * (coordinator/message-slices.ts), its decoding cannot be. 1,024 submits took
 * 2.4-5 ms CPU to decode, half the input slice; 256 take 0.55-1.9.
 */
export const FRAME_MAX_MSGS = 256;
/**
 * An Outbox that sent nothing for this long is idle: its next frame leaves as
 * soon as the code that pushed returns (a microtask) rather than at the end of
 * the event-loop turn, after every other socket and timer callback of it
 * (issue 14: a sequential task waits for one such turn at each of its hops).
 * A busy one (frames going out faster) still batches per turn.
 */
export const IDLE_FLUSH_MS = 0.25;
/**
 * A message queued with `later` rides on the next frame, or goes at the latest
 * this long after it was queued (issue 14, session 17: a driver's direct task's
 * record, a node's direct tasks' reports; off the path of a sequential task).
 * Nothing on that path needs them, and a task or a reader at the coordinator
 * that waits on such a task's output asks the node for them at once (`hurry`,
 * coordinator/scheduler/direct-hurry.ts). Each frame they save is a wake-up of
 * the coordinator. A driver's waited 2 ms until session 24: its sequential
 * tasks sent a frame every ~7 tasks for them (a node's waited 8 already).
 */
export const LATER_MS = 8;
/**
 * Consecutive subscribes queued in one frame travel as one message of up to
 * this many ids (issue 14): a driver's get of 20,000 refs was 20,000 messages
 * of one id, each decoded, checked and dispatched on the coordinator. Equal to
 * the coordinator's SPLIT_IDS (coordinator/message-slices.ts), which cuts
 * longer per-id messages anyway.
 */
export const MERGE_IDS = 128;
/** Default hard limit on one incoming frame. */
export const FRAME_HARD_MAX = 8 << 20;

/** `records`: a frame to the coordinator, its hot messages as records of a fixed table if it holds any (frame-records.ts). */
export function encodeFrame(msgs: Msg[], records = false): Uint8Array {
  return records && worthRecords(msgs) ? encodeRecordsFrame(msgs) : framePackr.pack(msgs);
}

/** Decodes and validates a frame (a chunk frame: its one chunk, chunk-frame.ts); throws ProtocolError naming what is wrong. */
export function decodeFrame(data: FrameIn, maxBytes = FRAME_HARD_MAX): Msg[] {
  if (data.byteLength > maxBytes) {
    throw new ProtocolError('FRAME_TOO_LARGE', `frame of ${data.byteLength} bytes is over the limit of ${maxBytes}`);
  }
  if (isChunkParts(data) || data[0] === CHUNK_MARK) return [decodeChunkFrame(data)];
  let raw: unknown;
  try {
    raw = data[0] === RECORDS_MARK ? decodeRecordsFrame(data) : framePackr.unpack(data);
  } catch (e) {
    throw new ProtocolError('BAD_FRAME', `frame is not valid msgpack: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new ProtocolError('BAD_FRAME', 'frame is not an array of messages');
  if (raw.length > MAX_BATCH) throw new ProtocolError('BAD_FRAME', `frame of ${raw.length} messages is over the limit of ${MAX_BATCH}`);
  for (let i = 0; i < raw.length; i++) {
    const err = messageCheck(raw[i], '');
    if (err) throw new ProtocolError('BAD_MESSAGE', `message[${i}]${err}`);
  }
  return raw as Msg[];
}

/** An object id in a frame: 40 hex characters and its string header. */
const ID_BYTES_EST = 44;

/**
 * A spec's arguments, estimated. By index: the coordinator gives a task without arguments a shared frozen empty
 * list, which V8 walks with `for...of` through its generic iterator (~300 ns and an allocation a loop, issue 14).
 */
function argBytes(args: TaskSpec['args']): number {
  let n = 0;
  for (let i = 0; i < args.length; i++) n += args[i].v?.byteLength ?? 48;
  return n;
}

/** A group member's inline argument values, with their framing. */
function argColumnBytes(vs: Uint8Array[]): number {
  let n = 4;
  for (let i = 0; i < vs.length; i++) n += vs[i].byteLength + 4;
  return n;
}

/** About how many bytes message `m` takes in a frame (a bound, not an exact size). */
export function payloadBytes(m: Msg): number {
  switch (m.t) {
    case 'chunk':
      return m.d.byteLength + 32;
    case 'put':
    case 'ready':
      return (m.v?.byteLength ?? 0) + 64;
    case 'submit':
      return 128 + argBytes(m.spec.args);
    case 'assign': {
      let n = 128 + (m.fn ? m.fn.source.length * 3 : 0) + argBytes(m.spec.args);
      for (let i = 0; i < m.inline.length; i++) n += m.inline[i].v.byteLength + 48;
      return n;
    }
    case 'fn':
      return 128 + m.f.source.length * 3; // UTF-16 units to at most 3 UTF-8 bytes each
    case 'release':
    case 'borrow':
    case 'dropped':
    case 'subscribe':
    case 'took':
      return 64 + m.ids.length * ID_BYTES_EST;
    case 'done': {
      let n = 64;
      for (let i = 0; i < m.results.length; i++) n += m.results[i].v?.byteLength ?? 64;
      return n;
    }
    // A group's messages carry up to MAX_GROUP members' values: counted, so that a frame of several stays under the
    // reader's bound (group.ts; a driver also closes a group at 1 MiB of arguments).
    case 'submitGroup':
    case 'assignGroup': {
      let n = 128 + (m.t === 'assignGroup' && m.fn ? m.fn.source.length * 3 : 0);
      for (let i = 0; i < m.args.length; i++) n += argColumnBytes(m.args[i]);
      return n;
    }
    case 'groupReady': {
      let n = 64 + m.ok.length * 4;
      for (let i = 0; i < m.v.length; i++) n += m.v[i].byteLength + 4;
      return n;
    }
    case 'groupDone': {
      let n = 64 + m.ok.length * 12;
      for (let i = 0; i < m.results.length; i++) n += m.results[i].v?.byteLength ?? 64;
      return n;
    }
    default:
      return 64;
  }
}

/**
 * Who flushes an outbox at the end of the turn, when not its own setImmediate:
 * a coordinator flushes its sessions' outboxes a slice per turn
 * (coordinator/flush-turns.ts), so that a turn's writes stay bounded however many nodes it touched.
 */
export interface FlushTurns {
  /** `o` has messages waiting: call o.turnFlush() in a coming turn, once. */
  add(o: Outbox): void;
  /**
   * An idle outbox asks to send as soon as the pushing code is done: allowed while the turn's bound for those is
   * not spent; then the turns call o.turnFlush() in a microtask (all of a turn's in one), else false.
   */
  now(o: Outbox): boolean;
}

/** Where an outbox's frames go: an object of the caller's (a coordinator's Session), or a function. */
export interface FrameSink {
  frame(frame: Uint8Array): void;
}

/** Where chunk frames go (chunk-frame.ts): the header and the chunk's bytes, sent from where they lie. */
export interface ChunkSink {
  chunk(head: Uint8Array, body: Uint8Array): void;
}

// The outbox's timers call these with the outbox as argument: no closure per outbox (a coordinator holds one per
// node, and 10,000 nodes' closures and contexts are objects every full GC marks; issue 14, session 38).
const turnFlushOf = (o: Outbox): void => o.turnFlush();
const lateFlushOf = (o: Outbox): void => o.lateFlush();

/** Collects messages and sends them as one frame at the end of the turn. */
export class Outbox {
  private queue: Msg[] = [];
  private bytes = 0;
  private scheduled = false;
  private lastSent = -Infinity;
  /** The subscribe this outbox made by merging (its own ids array), while it is the last message queued. */
  private merged: MsgOf<'subscribe'> | null = null;
  /** Its own end-of-turn flush (nextTurn and queueMicrotask take no argument), made at the first: an outbox with `turns` never makes it. */
  private flushLater: (() => void) | null = null;
  /** A `later` message's deadline is armed (a timer that flushes whatever is queued then). */
  private laterArmed = false;
  private readonly sink: FrameSink;
  /**
   * While busy, a frame at most this often (ms; 0: one a turn). A link between two coordinators (coordinator/mesh)
   * carries the tasks of all of one side's nodes, and each of its frames is a Redis publish and a decode and a
   * scheduler pass on the other side: one a turn put 1-2 tasks in a frame (issue 14). An outbox that sent nothing
   * for as long still sends at once.
   */
  gapMs = 0;
  /**
   * How long a `later` message may wait for a frame to ride on (ms; LATER_MS, tests of the `hurry` set a node's longer).
   */
  laterMs = LATER_MS;
  /**
   * `riding`: asked at each flush for one more message to carry in that frame (a node's changed load, shared/node/heartbeat.ts).
   * `turns`: flushes it at the end of the turn (default: its own nextTurn). An idle outbox (nothing sent for
   * IDLE_FLUSH_MS) sends as soon as the pushing code is done instead (a microtask).
   */
  constructor(
    sink: FrameSink | ((frame: Uint8Array) => void),
    private readonly riding?: () => Msg | null,
    private readonly turns?: FlushTurns,
    /** Hot messages as records of a fixed table (frame-records.ts): frames to the coordinator, and its frames to clients that read them. */
    public records = false,
  ) {
    this.sink = typeof sink === 'function' ? { frame: sink } : sink;
  }

  /**
   * Sends a chunk frame (chunk-frame.ts): its header, then the chunk's bytes from where they lie; set once the other
   * side said it reads them. Null: chunks travel as messages in frames.
   */
  chunkOut: ChunkSink | null = null;

  push(m: Msg): void {
    if (m.t === 'chunk' && this.chunkOut && fitsChunkFrame(m)) {
      // In order: what was queued before it leaves first.
      this.flush();
      this.lastSent = performance.now();
      return this.chunkOut.chunk(chunkHead(m), m.d);
    }
    if (m.t === 'subscribe' && this.mergeSubscribe(m)) return;
    this.queue.push(m);
    this.bytes += payloadBytes(m);
    if (this.bytes >= FRAME_SOFT_MAX || this.queue.length >= FRAME_MAX_MSGS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      const since = performance.now() - this.lastSent;
      if (since < this.gapMs) return void setTimeout(turnFlushOf, this.gapMs - since, this);
      const idle = since > IDLE_FLUSH_MS;
      if (!this.turns) (idle ? queueMicrotask : nextTurn)((this.flushLater ??= () => this.turnFlush()));
      else if (!idle || !this.turns.now(this)) this.turns.add(this);
    }
  }

  /**
   * Queues `m` without a frame of its own: it rides on the next frame (one a push asks for, or a size bound), or
   * leaves within LATER_MS. For messages whose lag costs nothing on the path of a sequential task (a direct
   * task's record at the coordinator, its report, a release); their order with all else is kept.
   */
  later(m: Msg): void {
    if (m.t === 'subscribe' && this.mergeSubscribe(m)) return;
    this.queue.push(m);
    this.bytes += payloadBytes(m);
    if (this.bytes >= FRAME_SOFT_MAX || this.queue.length >= FRAME_MAX_MSGS) this.flush();
    else if (!this.scheduled && !this.laterArmed) {
      this.laterArmed = true;
      setTimeout(lateFlushOf, this.laterMs, this);
    }
  }

  /**
   * Adds a subscribe's ids to the subscribe queued right before it (nothing
   * between them: the ids are handled in the same order), up to MERGE_IDS.
   * The first merge copies the queued message: a caller's ids array is never written to.
   */
  private mergeSubscribe(m: MsgOf<'subscribe'>): boolean {
    const n = this.queue.length;
    const last = n > 0 ? this.queue[n - 1] : undefined;
    if (last?.t !== 'subscribe' || last.ids.length + m.ids.length > MERGE_IDS) return false;
    let into = this.merged;
    if (last !== into) {
      into = this.merged = { t: 'subscribe', ids: last.ids.slice() };
      this.queue[n - 1] = into;
    }
    for (const id of m.ids) into.ids.push(id);
    this.bytes += m.ids.length * ID_BYTES_EST;
    // Its flush is scheduled (the queue was not empty); only the size bound is new.
    if (this.bytes >= FRAME_SOFT_MAX) this.flush();
    return true;
  }

  /**
   * Takes `m` back if it is still queued (the caller's own object: a merged subscribe is a copy, not found): true when
   * it will not be sent. A driver's direct subscribe whose value came by the shortcut first (driver.ts).
   */
  withdraw(m: Msg): boolean {
    const i = this.queue.lastIndexOf(m);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.bytes -= payloadBytes(m);
    return true;
  }

  /** The end-of-turn flush it asked for (once per push that found it unscheduled). */
  turnFlush(): void {
    this.scheduled = false;
    this.flush();
  }

  /** A `later` message's deadline: whatever is queued then leaves. */
  lateFlush(): void {
    this.laterArmed = false;
    this.flush();
  }

  /** Sends what is queued now (a flush already scheduled still comes, and finds what was pushed since). */
  flush(): void {
    if (this.queue.length === 0) return;
    const q = this.queue;
    this.queue = [];
    this.bytes = 0;
    this.merged = null;
    const extra = this.riding?.();
    if (extra) q.push(extra);
    this.lastSent = performance.now();
    this.sink.frame(encodeFrame(q, this.records));
  }

  get pending(): number {
    return this.queue.length;
  }
}
