// How much of a session's input the coordinator handles per event-loop turn
// (issue 14: no stall over 50 ms). A frame's messages are handled for at most
// MESSAGE_SLICE_MS, then the loop serves sockets, timers and HTTP; the rest
// waits in order (coordinator.ts `backlog`). One message can hold up to
// 100,000 ids (a driver freeing a whole job's results): such messages are cut
// into messages of SPLIT_IDS ids first, so that a slice can end between them.
import type { Msg } from '../shared/protocol/messages.js';
import { loopBudget, LoopPart, type LoopBudget } from './loop-budget.js';
import { RECORDS_MARK } from '../shared/protocol/frame-records.js';
import { CHUNK_MARK, isChunkParts, type FrameIn } from '../shared/protocol/chunk-frame.js';

export const MESSAGE_SLICE_MS = 10;
/** Ids per message past which a per-id message is cut (a free costs 20-50 µs: 128 are a few ms). */
export const SPLIT_IDS = 128;

/** Messages whose handler treats each id on its own, in order, and answers per id: cutting them changes nothing else. */
const PER_ID = new Set<Msg['t']>(['release', 'borrow', 'dropped', 'subscribe', 'took']);

/**
 * What a message weighs against the clock checks of a slice: the clock is
 * read once 8 units were handled since the last reading. A message is 1; a
 * per-id message 1 more per 8 ids, so that a release of SPLIT_IDS ids is
 * followed by a reading (checking every 8 messages let 8 x 512 frees, ~100 ms, run between readings).
 */
export function weight(m: Msg): number {
  return PER_ID.has(m.t) ? 1 + ((m as { ids: unknown[] }).ids.length >> 3) : 1;
}

/** `msgs` with every per-id message of more than SPLIT_IDS ids cut into consecutive messages (the same array when none is). */
export function splitHeavy(msgs: Msg[]): Msg[] {
  let heavy = false;
  for (const m of msgs) if (PER_ID.has(m.t) && (m as { ids: unknown[] }).ids.length > SPLIT_IDS) heavy = true;
  if (!heavy) return msgs;
  const out: Msg[] = [];
  for (const m of msgs) {
    const ids = PER_ID.has(m.t) ? (m as { ids: unknown[] }).ids : null;
    if (!ids || ids.length <= SPLIT_IDS) {
      out.push(m);
      continue;
    }
    for (let i = 0; i < ids.length; i += SPLIT_IDS) out.push({ ...m, ids: ids.slice(i, i + SPLIT_IDS) } as Msg);
  }
  return out;
}

/**
 * One budget of MESSAGE_SLICE_MS for the input handled in a loop iteration,
 * shared by every session and by the poll phase and the drain of waiting
 * frames (issue 14): an iteration in which 100 nodes' frames arrive handles
 * one slice of them, not a slice each (a slice per frame made 100-frame turns
 * of ~1 s), and the drain after them shares that slice. A part of the
 * iteration's budget (loop-budget.ts): it also ends with the iteration, but
 * gets its floor, and the iteration's boundary resets it.
 */
export class TurnBudget extends LoopPart {
  constructor(ms = MESSAGE_SLICE_MS, loop: LoopBudget = loopBudget) {
    super(ms, loop);
  }
}

/**
 * The number of messages in a frame, read from its msgpack array header
 * without decoding it (a frame is an array of messages, shared/protocol/frame.ts),
 * or null when the frame does not start with an array header (decoding it says what is wrong).
 * A frame that waits for a later turn is counted against the session's rate limits when it arrives.
 */
export function frameCount(data: FrameIn): number | null {
  // A chunk frame is one message (shared/protocol/chunk-frame.ts).
  if (isChunkParts(data) || data[0] === CHUNK_MARK) return 1;
  // A frame of records (shared/protocol/frame-records.ts) has its array header after the mark.
  const at = data[0] === RECORDS_MARK ? 1 : 0;
  const b = data[at];
  if (b >= 0x90 && b <= 0x9f) return b & 0x0f;
  if (b === 0xdc && data.byteLength >= at + 3) return (data[at + 1] << 8) | data[at + 2];
  if (b === 0xdd && data.byteLength >= at + 5) return ((data[at + 1] << 24) >>> 0) + ((data[at + 2] << 16) | (data[at + 3] << 8) | data[at + 4]);
  return null;
}
