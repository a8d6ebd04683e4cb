// What the coordinator's handler files share (handlers.ts, node-giving.ts): a handler's type and a session's node.
import type { Msg, MsgOf } from '../shared/protocol/messages.js';
import type { NodeRecord } from './gcs/tables.js';
import type { Managers } from './managers.js';
import type { Session } from './session.js';

export type Handler<K extends Msg['t']> = (c: Managers, s: Session, m: MsgOf<K>) => string | null | void;

/** The node record of node session `s` (undefined for drivers and sessions not joined yet). */
export function nodeOf(c: Managers, s: Session): NodeRecord | undefined {
  return s.nodeId ? c.membership.nodeOf(s) : undefined;
}
