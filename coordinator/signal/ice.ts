// ICE servers for peers across NATs (issue 17): the coordinator hands each
// node and driver, in its welcome, the STUN and TURN servers its peer links
// may use. A TURN server given without a user gets short-lived credentials
// derived from a shared secret, as coturn's REST API expects
// (`use-auth-secret`, draft-uberti-behave-turn-rest): the user is
// "<unix expiry>:<peer id>", the password base64(HMAC-SHA1(secret, user)).
// The secret never leaves the coordinator; a credential dies at its expiry.
import { createHmac } from 'node:crypto';
import { TabmeshError } from '../../shared/errors.js';
import type { IceConfig, IceServer } from '../../shared/transfer/raw-peer.js';

export interface IceOptions {
  /** `stun:host:port`, `turn:host:port`, `turn:user:pass@host:port` (also turns:, and ?transport=tcp). */
  servers: string[];
  /** coturn's static-auth-secret: TURN servers given without a user get credentials from it. */
  turnSecret?: string;
  /** How long such a credential lives. Default 6 h. */
  turnTtlS?: number;
  /** Peers use relayed candidates only: they never learn each other's addresses. */
  relayOnly?: boolean;
}

interface Parsed extends IceServer {
  /** A TURN server whose credentials come from the secret. */
  rest: boolean;
}

const SERVER = /^(stuns?|turns?):(?:([^:@/?\s]+):([^@/?\s]+)@)?([^@/?\s]+?)(\?transport=(?:udp|tcp))?$/;

/** Parses one `--ice-servers` entry; a bad one is a BAD_ARGUMENT naming it. */
export function parseIceServer(spec: string, hasSecret: boolean): Parsed {
  const m = SERVER.exec(spec.trim());
  if (!m || m[4].length > 255)
    throw new TabmeshError('BAD_ARGUMENT', `not an ICE server: '${spec}' (stun:host:port, turn:host:port or turn:user:pass@host:port)`);
  const [, scheme, user, pass, host, transport = ''] = m;
  const urls = `${scheme}:${host}${transport}`;
  if (scheme.startsWith('stun')) {
    if (user) throw new TabmeshError('BAD_ARGUMENT', `a STUN server takes no credentials: '${spec}'`);
    return { urls, rest: false };
  }
  if (user) return { urls, username: decodeURIComponent(user), credential: decodeURIComponent(pass), rest: false };
  if (!hasSecret) throw new TabmeshError('BAD_ARGUMENT', `TURN server '${spec}' needs user:pass@ or a TURN secret (--turn-secret)`);
  return { urls, rest: true };
}

/** What the coordinator tells each peer. */
export class IceServers {
  private readonly servers: Parsed[];
  private readonly ttlS: number;

  constructor(private readonly o: IceOptions) {
    if (o.turnSecret !== undefined && o.turnSecret.length < 8) throw new TabmeshError('BAD_ARGUMENT', 'a TURN secret needs at least 8 characters');
    this.servers = o.servers.map((s) => parseIceServer(s, !!o.turnSecret));
    if (this.servers.length > 8) throw new TabmeshError('BAD_ARGUMENT', 'at most 8 ICE servers');
    if (o.relayOnly && !this.servers.some((s) => s.urls.startsWith('turn'))) {
      throw new TabmeshError('BAD_ARGUMENT', 'relay-only peer links need a TURN server');
    }
    this.ttlS = o.turnTtlS ?? 6 * 3600;
  }

  /** Whether credentials handed out expire (a TURN server that takes them from the secret): peers then get fresh ones in time. */
  get expires(): boolean {
    return this.servers.some((s) => s.rest);
  }

  /** A credential's lifetime, ms. */
  get ttlMs(): number {
    return this.ttlS * 1000;
  }

  /** The ICE config of peer `peerId` (a node or job id), with fresh TURN credentials. */
  for(peerId: string, nowMs = Date.now()): IceConfig {
    const user = `${Math.floor(nowMs / 1000) + this.ttlS}:${peerId}`;
    const credential = this.o.turnSecret ? createHmac('sha1', this.o.turnSecret).update(user).digest('base64') : '';
    const iceServers = this.servers.map(({ rest, ...s }) => (rest ? { ...s, username: user, credential } : s));
    return this.o.relayOnly ? { iceServers, relayOnly: true } : { iceServers };
  }
}
