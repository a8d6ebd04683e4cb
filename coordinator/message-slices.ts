// How much of a session's input the coordinator handles per event-loop turn
// (issue 14: no stall over 50 ms). A frame's messages are handled for at most
// MESSAGE_SLICE_MS, then the loop serves sockets, timers and HTTP; the rest
// waits in order (coordinator.ts `backlog`). One message can hold up to
// 100,000 ids (a driver freeing a whole job's results): such messages are cut
// into messages of SPLIT_IDS ids first, so that a slice can end between them.
import type { Msg } from '../shared/protocol/messages.js';

export const MESSAGE_SLICE_MS = 10;
/** Ids per message past which a per-id message is cut (a free costs tens of µs: 512 stay within a slice). */
export const SPLIT_IDS = 512;

/** Messages whose handler treats each id on its own, in order, and answers per id: cutting them changes nothing else. */
const PER_ID = new Set<Msg['t']>(['release', 'borrow', 'dropped', 'subscribe']);

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
