// `tabmesh coordinator --ice-servers ... --turn-secret ...` (issue 17): the
// STUN/TURN servers handed to peers. The secret may come from the environment
// (TABMESH_TURN_SECRET), where other users of the machine cannot read it in `ps`.
import { IceServers, type IceOptions } from '../coordinator/signal/ice.js';

export const ICE_USAGE = `                 [--ice-servers stun:HOST:PORT,turn:HOST:PORT,turn:USER:PASS@HOST:PORT] [--turn-secret S] [--ice-relay-only]
                 (peers across NATs: STUN/TURN servers for peer links; a TURN server without USER:PASS gets
                  short-lived credentials from coturn's static-auth-secret S, or $TABMESH_TURN_SECRET;
                  --ice-relay-only: links through TURN only, peers never learn each other's addresses)`;

export const iceOptions = {
  'ice-servers': { type: 'string' },
  'turn-secret': { type: 'string' },
  'ice-relay-only': { type: 'boolean', default: false },
} as const;

/** The ICE options of the command line; throws (a BAD_ARGUMENT naming the entry) on a bad one. */
export function iceFlags(values: { 'ice-servers'?: string; 'turn-secret'?: string; 'ice-relay-only'?: boolean }): IceOptions | undefined {
  const servers = (values['ice-servers'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const turnSecret = values['turn-secret'] ?? process.env.TABMESH_TURN_SECRET;
  if (servers.length === 0) {
    if (values['ice-relay-only'] || values['turn-secret'] !== undefined) throw new Error('--turn-secret and --ice-relay-only need --ice-servers');
    return undefined;
  }
  const o: IceOptions = { servers, turnSecret: turnSecret || undefined, relayOnly: values['ice-relay-only'] };
  new IceServers(o); // checked now, not at the first welcome
  return o;
}
