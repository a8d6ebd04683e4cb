// Where a node joins (issue 14, 20,000 nodes): its configured coordinators,
// and the ones a full coordinator sends it on to. A coordinator at its
// connection bound refuses a node with COORDINATOR_FULL and, in a mesh of
// several (coordinator/mesh), names the live coordinator with the most room
// in its close reason (`COORDINATOR_FULL next=<url>`); the node goes there at
// once instead of backing off on the full one. A close reason is input from
// outside: a node follows it only to a URL of its configured list, or to one
// named by a coordinator of that list (the mesh as the coordinator it was told
// to trust announces it), never to any URL a frame names.

/** RFC 6455: a close frame's reason is at most 123 bytes of UTF-8. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * A refusal's close reason that names the coordinator to go to instead, when
 * it fits in a close frame (else the code alone: the node backs off or tries
 * the next URL of its list, as before).
 */
export function sendOnReason(code: string, url: string | undefined): string {
  if (url === undefined) return code;
  const reason = `${code} next=${url}`;
  return new TextEncoder().encode(reason).byteLength <= MAX_CLOSE_REASON_BYTES ? reason : code;
}

/** The coordinator a close reason (or an error message holding it) sends the node on to (sendOnReason), or undefined. */
export function sendOnHint(why: string): string | undefined {
  return /\bnext=(\S{1,2048}?)(?=[)\s]|$)/.exec(why)?.[1];
}

/**
 * A coordinator URL's identity (scheme with ws -> http, host, port, path
 * without a trailing slash), or undefined when it is not a plain http(s) or
 * ws(s) URL: no credentials, query or fragment (a redirect must not carry them).
 */
export function coordinatorKey(url: string): string | undefined {
  if (url.length > 2048) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = { 'http:': 'http:', 'ws:': 'http:', 'https:': 'https:', 'wss:': 'https:' }[u.protocol];
  if (!scheme || u.username || u.password || u.search || u.hash || !u.hostname) return undefined;
  const path = u.pathname.replace(/\/ws$/, '').replace(/\/+$/, '');
  return `${scheme}//${u.host}${path}`;
}

/** Coordinators named by trusted ones that a node remembers (a mesh has a few; a bound against a flood of names). */
const MAX_ANNOUNCED = 64;

/**
 * A node's coordinators across its sessions: `current` is where to join next.
 * After each failed or ended session, `moveOn(why)` picks the next one and says
 * whether to go at once (sent on by a full coordinator, or a full one with
 * other URLs configured) or after the usual backoff.
 */
export class CoordinatorUrls {
  private readonly configured: { url: string; key: string }[] = [];
  /** Coordinators named by a configured one in a refusal (their keys: a key is a URL to join). */
  private readonly announced = new Set<string>();
  private at = 0;
  private url: string;
  /** Moves at once since the last join: bounded, then the backoff (every coordinator may be full). */
  private quick = 0;
  /** Sent on to another coordinator (for the bench's counts and logs). */
  followed = 0;
  /** Hints refused (not a coordinator URL, or named by one not trusted). */
  refused = 0;
  log: (text: string) => void = () => {};

  constructor(urls: string[]) {
    for (const url of urls) {
      const key = coordinatorKey(url);
      if (key === undefined) throw new Error(`not an http(s) or ws(s) coordinator URL: ${url}`);
      if (!this.configured.some((c) => c.key === key)) this.configured.push({ url, key });
    }
    if (this.configured.length === 0) throw new Error('no coordinator URL');
    this.url = this.configured[0].url;
  }

  get current(): string {
    return this.url;
  }

  /** The session at `current` is up: moves at once are counted afresh. */
  joined(): void {
    this.quick = 0;
  }

  /**
   * The session at `current` failed or ended saying `why`: moves to where the
   * refusal sends the node if that is trusted, else to the next configured
   * URL. True: try at once; false: after the backoff.
   */
  moveOn(why: string): boolean {
    const hint = sendOnHint(why);
    const bound = this.configured.length + this.announced.size + 1;
    if (hint !== undefined) {
      const to = this.trusted(hint);
      if (to !== undefined && to !== this.url) {
        this.url = to;
        this.followed++;
        return this.quick++ < bound;
      }
      if (to === undefined) this.refused++;
    }
    this.at = (this.at + 1) % this.configured.length;
    this.url = this.configured[this.at].url;
    // A full coordinator that named nowhere (alone in its mesh, or the mesh full): the next of the list at once.
    return /\bCOORDINATOR_FULL\b/.test(why) && this.configured.length > 1 && this.quick++ < bound;
  }

  /** The URL to join for a hint from the coordinator at `current`, or undefined when it is not to be followed. */
  private trusted(hint: string): string | undefined {
    const key = coordinatorKey(hint);
    if (key === undefined) {
      this.log(`a refusal named ${JSON.stringify(hint.slice(0, 100))}, not a coordinator URL: not followed`);
      return undefined;
    }
    const i = this.configured.findIndex((c) => c.key === key);
    if (i >= 0) {
      this.at = i;
      return this.configured[i].url;
    }
    if (this.announced.has(key)) return key;
    const fromKey = coordinatorKey(this.url);
    if (!this.configured.some((c) => c.key === fromKey)) {
      this.log(`${this.url} (not one of the configured coordinators) named ${key}: not followed`);
      return undefined;
    }
    if (this.announced.size >= MAX_ANNOUNCED) this.announced.delete(this.announced.values().next().value!);
    this.announced.add(key);
    this.log(`${this.url} is full and sends this node on to ${key}`);
    return key;
  }
}
