// The other coordinators' agents as nodes of this one (issue 15): one link
// session a peer, a plain Session over the bus. Each agent a peer makes for us
// has its own number (bus.ts, the frames' tag), and the link follows the
// newest (issue 14: a spread job hung when the peer dropped its agent, and the
// guest tasks with it, while this side kept the old agent's session alive):
// - a frame of a newer agent: the older one is gone with what it ran for us,
//   so its session closes now and its tasks go back to the queue (the task
//   states' `assigned/running -> queued` of a lost node), before the new
//   agent's hello opens a session of its own;
// - the peer says its agent ended (`linkEnd`: it took us for gone, or stops):
//   the same, without waiting for a new agent or the silence window (a loop
//   that stalls again and again gives every node a fresh window: the silent
//   link never died);
// - a frame of an older agent is void; a session of ours that closes tells its
//   agent (`agentEnd`), which says hello again at once;
// - with no session open for the agent, its frames up to its next hello are void:
//   they were sent on a session we closed (in flight, sent again after a Redis
//   reconnect, or queued while its process stood still), and a new session that
//   began with one refused it (BAD_MESSAGE: the first message must be hello) and
//   dropped the hello queued behind it (session 31).
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import type { Coordinator } from '../coordinator.js';
import { Session } from '../session.js';
import { BusSocket, LINK_FLUSH_MS, type FrameKind } from './bus.js';

interface Link {
  tag: number;
  s: Session;
}

const EMPTY = new Uint8Array(0);

export class MeshLinks {
  private readonly links = new Map<string, Link>();
  /** The newest agent of each peer seen, and one that said it ended. */
  private readonly newest = new Map<string, number>();
  private readonly ended = new Map<string, number>();
  /** Link sessions closed because the peer's agent was replaced or ended (/api/stats meshLinksEnded). */
  endedCount = 0;
  /** Frames of an agent whose session we closed, before its next hello, or of a peer taken for gone: void (/api/stats meshLinkFramesVoid). */
  voidCount = 0;
  /** Whether a peer is taken for gone as of the last beat (its record there, not live); none before the first. */
  private gone: ((id: string) => boolean) | undefined;

  constructor(
    private readonly c: Coordinator,
    private readonly send: (to: string, kind: FrameKind, frame: Uint8Array, tag: number) => void,
    /** A link session of `from` was refused or failed here (`reason`: its error code): why a pin to it waits (link-pins.ts). */
    private readonly closedWith: (from: string, reason: string) => void = () => {},
  ) {}

  /** A frame of agent `tag` of coordinator `from`: it is a node of ours, on a session over the bus. */
  frame(from: string, tag: number, frame: Uint8Array): void {
    const newest = this.newest.get(from) ?? -1;
    if (tag < newest || this.ended.get(from) === tag) return; // an agent the peer has closed: its frames are void
    let link = this.links.get(from);
    if (tag > newest) {
      this.newest.set(from, tag);
      if (link) {
        this.end(from, link, `coordinator ${from} has a new agent: the old one ran nothing more for us`);
        link = undefined;
      }
    }
    if (!link || link.s.closed) {
      // A peer we take for gone (its record stale) gets no session: the tasks we placed there went back to the queue
      // each beat (keep) while it said hello again and again. Its agent says hello again on its interval.
      const opening = this.gone?.(from) ? null : helloOn(frame);
      if (!opening) return void this.voidCount++;
      link = this.open(from, tag);
      frame = opening;
    }
    this.c.onFrame(link.s, frame);
  }

  /** The peer's agent `tag` ended: what we placed on it goes back to the queue now. */
  agentEnded(from: string, tag: number): void {
    if (tag < (this.newest.get(from) ?? -1)) return;
    this.newest.set(from, tag);
    this.ended.set(from, tag);
    const link = this.links.get(from);
    if (link?.tag === tag) this.end(from, link, `coordinator ${from} ended its agent (it took us for gone, or it stops)`);
  }

  /** Frames with the peer were lost for good: its current agent's session ends (its tasks back to the queue); a newer agent opens the next. */
  reset(from: string): void {
    const tag = this.newest.get(from);
    if (tag === undefined) return;
    this.ended.set(from, tag);
    const link = this.links.get(from);
    if (link) this.end(from, link, 'frames with it were lost for good');
  }

  private end(from: string, link: Link, why: string): void {
    this.endedCount++;
    if (!link.s.closed) this.c.gcs.event('mesh-link-ended', `link of coordinator ${from} closed: ${why}`);
    link.s.ws.close(1006);
    if (this.links.get(from) === link) this.links.delete(from);
  }

  private open(from: string, tag: number): Link {
    const link = {} as Link;
    const sock = new BusSocket(
      (f) => this.send(from, 'toAgent', f, tag),
      (code, reason) => {
        if (this.links.get(from) === link) this.links.delete(from);
        if (code === 1008) this.closedWith(from, reason);
        // The agent hears it (it says hello again at once); an agent that ended is not listening.
        if (this.ended.get(from) !== tag) this.send(from, 'agentEnd', EMPTY, tag);
        this.c.onClose(link.s, code);
      },
    );
    const s = new Session(sock.asWebSocket(), `coordinator ${from}`, this.c.flushes);
    s.meshLink = from;
    s.outbox.gapMs = LINK_FLUSH_MS;
    link.tag = tag;
    link.s = s;
    this.links.set(from, link);
    this.c.sessions.add(s);
    return link;
  }

  /**
   * Closes the links of coordinators not in `live` (gone by the mesh's records), and forgets the agents' numbers of
   * those that have no record any more (`known`: gone for good, an id is never reused): one entry a coordinator ever
   * seen stayed here (a restart is a new id). A late frame of a forgotten one opens a link that the next beat closes.
   * Until the next beat, a coordinator known but not live opens no session (frame()).
   */
  keep(live: ReadonlySet<string>, known: (id: string) => boolean = () => true): void {
    this.gone = (id) => !live.has(id) && known(id);
    for (const [id, link] of this.links) if (!live.has(id)) link.s.ws.close(1006);
    for (const id of this.newest.keys()) if (!live.has(id) && !known(id)) this.newest.delete(id);
    for (const id of this.ended.keys()) if (!live.has(id) && !known(id)) this.ended.delete(id);
  }

  /** Peers whose agents' numbers are kept (tests). */
  get remembered(): number {
    return new Set([...this.newest.keys(), ...this.ended.keys()]).size;
  }

  /** The open link sessions. */
  sessions(): Session[] {
    return [...this.links.values()].map((l) => l.s);
  }

  close(): void {
    for (const link of this.links.values()) link.s.ws.close(1001);
  }
}

/**
 * The frame a new link session starts with: `frame` when its first message is a hello; its messages from the first
 * hello on when others come before it (the tail of a session closed here); null without a hello (all void). A frame
 * that does not decode opens a session as before: the session refuses it (its bad frame, counted there).
 */
function helloOn(frame: Uint8Array): Uint8Array | null {
  let msgs;
  try {
    msgs = decodeFrame(frame);
  } catch {
    return frame;
  }
  const k = msgs.findIndex((m) => m.t === 'hello');
  if (k < 0) return null;
  return k === 0 ? frame : encodeFrame(msgs.slice(k));
}
