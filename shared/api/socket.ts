// The WebSocket surface tabmesh uses: the browser's WebSocket and the `ws`
// package's both fit it.
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketCtor = new (url: string) => WebSocketLike;

/**
 * A WebSocketLike's state and event handlers, as a socket made in code starts them (connecting, nothing buffered):
 * the base of the sockets tests, benches and the simulator hand a driver or a node runtime, which add send/close.
 */
export abstract class SocketFields {
  binaryType = 'arraybuffer';
  bufferedAmount = 0;
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
}

export function defaultWebSocket(): WebSocketCtor {
  const ws = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (!ws) throw new Error('no WebSocket in this environment: pass one as connect({ WebSocket })');
  return ws;
}

/** http(s)://host[:port][/base] -> ws(s)://host[:port][/base]/ws */
export function wsUrl(url: string, path = '/ws'): string {
  const u = url.replace(/\/+$/, '');
  if (/^wss?:\/\//.test(u)) return u.endsWith(path) ? u : u + path;
  if (/^https:\/\//.test(u)) return 'wss://' + u.slice(8) + path;
  if (/^http:\/\//.test(u)) return 'ws://' + u.slice(7) + path;
  throw new Error(`not an http(s) or ws(s) url: ${url}`);
}

export function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) {
    // ws may hand over fragmented messages as Buffer[]
    let n = 0;
    for (const b of data as Uint8Array[]) n += b.byteLength;
    const out = new Uint8Array(n);
    let o = 0;
    for (const b of data as Uint8Array[]) {
      out.set(b, o);
      o += b.byteLength;
    }
    return out;
  }
  throw new Error('expected a binary frame');
}
