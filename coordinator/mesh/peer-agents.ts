// Our agents on the other coordinators of the mesh (agent.ts), one a live peer.
// Each agent has a number, sent with its frames (bus.ts): frames of an agent
// that ended (the peer was taken for gone, or frames with it were lost) name an
// older number and are dropped. Numbers only grow.
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Coordinator } from '../coordinator.js';
import { PeerAgent } from './agent.js';
import type { FrameKind } from './bus.js';

export class PeerAgents {
  private readonly agents = new Map<string, PeerAgent>();
  /** The number of each peer's agent; numbers only grow. */
  private readonly tags = new Map<string, number>();
  private seq = 0;

  constructor(
    private readonly c: Coordinator,
    private readonly send: (to: string, kind: FrameKind, frame: Uint8Array, tag: number) => void,
    private readonly joinToken: string | undefined,
    /** The peer answered a locate an agent asked as its node (signal-relay.ts). */
    private readonly located: (peer: string, m: MsgOf<'located'>) => void,
  ) {}

  get(id: string): PeerAgent | undefined {
    return this.agents.get(id);
  }

  has(id: string): boolean {
    return this.agents.has(id);
  }

  values(): IterableIterator<PeerAgent> {
    return this.agents.values();
  }

  /** The peers with an agent (one may be dropped while this is walked). */
  ids(): IterableIterator<string> {
    return this.agents.keys();
  }

  /** The current agent for `from`, if `tag` names it. */
  of(from: string, tag: number): PeerAgent | undefined {
    return this.tags.get(from) === tag ? this.agents.get(from) : undefined;
  }

  /** A new agent for peer `id` (the next number): it says hello and runs what the peer places on it. */
  add(id: string): void {
    const tag = ++this.seq;
    this.tags.set(id, tag);
    // The agent's end reaches the peer's link at once (links.ts): its guest tasks go back to the queue there.
    const agent = new PeerAgent(
      this.c,
      id,
      (f) => this.send(id, 'toLink', f, tag),
      this.joinToken,
      () => this.send(id, 'linkEnd', new Uint8Array(0), tag),
    );
    agent.onLocated = (m) => this.located(id, m);
    this.agents.set(id, agent);
  }

  /** The agent for peer `id` ends; a new one (it comes back from a stall) gets the next number anyway. */
  drop(id: string): void {
    this.agents.get(id)?.close();
    this.agents.delete(id);
    this.tags.delete(id);
  }

  close(): void {
    for (const a of this.agents.values()) a.close();
  }
}
