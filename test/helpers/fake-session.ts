// A hand-made coordinator session for white-box tests of one box: it keeps what it is sent.
import type { Session } from '../../coordinator/session.js';
import type { Msg } from '../../shared/protocol/messages.js';

export function fakeSession(label: string): Session & { sent: Msg[] } {
  const sent: Msg[] = [];
  return { label, held: new Map(), closed: false, sent, send: (m: Msg) => sent.push(m) } as unknown as Session & { sent: Msg[] };
}
