// One request of a swarm fetch (issue 17): a run of chunks asked of one
// source, its chunks' states as it goes (asked, held, asked again), how it is
// taken back, and what the source's answer tells the fetch (its rate, its
// holder's word). The fetch (swarm-fetch.ts) decides what to ask of whom;
// this is the bookkeeping of one ask and its answer.
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { CHUNK_DATA_BYTES } from './wire.js';
import { BadChunkError, CancelledError, type Cancel } from './fetch-errors.js';
import { ASKED, HELD, MISSING } from './swarm-pick.js';
import { fit, loneRun, streamRuns } from './swarm-window.js';
import { answered, busyFrom } from './swarm-policy.js';
import type { FanWord } from './fan-out.js';
import type { Source, SwarmContext } from './swarm-source.js';

/** What a request reads and changes of its fetch. */
export interface RequestHost {
  readonly swarm: SwarmContext;
  readonly id: ObjectId;
  readonly size: number;
  readonly hash: string;
  /** Chunk states (one per chunk), and where this reader starts looking for chunks (its first run's place). */
  readonly state: Uint8Array;
  readonly spot: number;
  /** Per chunk asked of a full holder, when it was last claimed (0: not asked of one). */
  readonly claimedAt: Float64Array;
  /** The buffer being filled, and the leaves (once in). */
  readonly buf: Uint8Array | null;
  readonly leaves: Uint8Array | null;
  /** Requests to full holders that may be taken back, and the bytes each asked (company(), turnOn()). */
  readonly toFull: Map<Cancel, { bytes: number; s: Source; extra: boolean }>;
  /** Whether a request's chunks of a full holder are claimed with it (not when every missing chunk is claimed already). */
  claimsRuns(): boolean;
  claim(c: number): void;
  held(c: number, fromFull: boolean): void;
  failed(s: Source, e: unknown): void;
  /** A full holder's word on this fetch (fan-out.ts). */
  heard(s: Source, m: FanWord, fill: boolean): void;
  wake(): void;
}

export interface Lead {
  got: (l: Uint8Array) => void;
  fail: (e: unknown) => void;
}

/**
 * Asks `s` for chunks [first, end) of `f`; `lead`: with the leaves (checked
 * against the hash), told `got` them or `fail` before. `extra`: a lone
 * reader's window past its first request, taken back when another reader
 * shows up.
 */
export function ask(f: RequestHost, s: Source, first: number, end: number, lead?: Lead, extra = false): void {
  const at = s.full ? Date.now() : 0;
  if (s.full) f.swarm.stats.askedOfFull += end - first;
  for (let c = first; c < end; c++) {
    f.state[c] = ASKED;
    f.claimedAt[c] = at;
  }
  if (s.full && f.claimsRuns()) for (let c = first; c < end; c++) f.claim(c);
  busyFrom(s, Date.now());
  s.inflight++;
  let got = 0;
  const from = first * CHUNK_DATA_BYTES;
  const to = Math.min(f.size, end * CHUNK_DATA_BYTES);
  const whole = (c: number) => Math.min(f.size, (c + 1) * CHUNK_DATA_BYTES);
  // Chunks wholly in [from, upTo) arrived and checked; the rest go back to be asked for again.
  // (A request taken back set the rest missing when it was; they may be asked again since.)
  const done = (upTo: number, rest = true) => {
    for (let c = first; c < end; c++) {
      if (whole(c) <= upTo) {
        if (f.state[c] !== HELD) f.held(c, s.full);
      } else if (rest && f.state[c] === ASKED) f.state[c] = MISSING;
    }
  };
  // A request of a full holder may be taken back: its chunks not yet checked are asked for again at once.
  const cancel: Cancel | undefined = s.full && !lead ? {} : undefined;
  let takenBack = false;
  const handle: Cancel = {
    cancel: () => {
      takenBack = true;
      const upTo = cancel?.cancel?.() ?? from;
      for (let c = first; c < end; c++) if (whole(c) > upTo && f.state[c] === ASKED) f.state[c] = MISSING;
      return upTo;
    },
  };
  if (cancel) f.toFull.set(handle, { bytes: to - from, s, extra });
  let leavesIn = false;
  const gotLeaves = (l: Uint8Array) => {
    leavesIn = true;
    lead?.got(l);
  };
  const onFan = s.full ? (m: FanWord, fill: boolean) => f.heard(s, m, fill) : undefined;
  void f.swarm.links
    .linkTo(s.peer, s.readmits > 0) // asked again after its link did not open: a new attempt (swarm-window.ts)
    .then((link) => {
      if (takenBack) throw new CancelledError(from);
      fit(s, link);
      const into = f.buf!;
      return link.fetch(f.id, f.size, lead ? { hash: f.hash, gotLeaves, into, from, to, onFan } : { leaves: f.leaves!, into, from, to, cancel, onFan });
    })
    .then(
      () => {
        s.probation = false;
        s.answered++;
        got = to - from;
        done(to);
        if (lead && !leavesIn) lead.fail(new TabmeshError('OBJECT_LOST', `${s.peer} sent no leaves of ${f.id}`));
      },
      (e: unknown) => {
        if (e instanceof CancelledError) {
          got = Math.max(0, e.verified - from);
          return done(e.verified, false);
        }
        done(e instanceof BadChunkError && e.partial ? e.partial.received : from);
        // Before the leaves, getLeaves drops the source and tries the next.
        if (lead && !leavesIn) lead.fail(e);
        else f.failed(s, e);
      },
    )
    .finally(() => {
      s.inflight--;
      answered(s, got, Date.now());
      f.toFull.delete(handle);
      f.wake();
    });
}

/**
 * Takes back the requests to full holders that `which` selects, but not the
 * oldest, up to `keep` bytes per holder: those are on their way already (a
 * holder sends one reader's runs of an object in order), and a cancel would
 * only waste them (sim, 2 readers over 2 MB/s channels: the origin sent 0.14
 * copies for nothing). They stay claimed.
 */
export function takeBack(f: RequestHost, keep: number, which: (r: { s: Source; extra: boolean }) => boolean): void {
  const kept = new Map<Source, number>();
  for (const [c, r] of f.toFull) {
    if (!which(r)) continue;
    const k = (kept.get(r.s) ?? 0) + r.bytes;
    kept.set(r.s, k);
    if (k > keep) {
      c.cancel?.();
      f.toFull.delete(c);
    }
  }
}

/** Asks `s` for the leaves of `f` (`lone`: with the first run): the leaves, or null when `s` failed (`f` was told). */
export async function leavesOf(f: RequestHost, s: Source, lone: boolean): Promise<Uint8Array | null> {
  try {
    if (lone) {
      // An open link's messages shape the run (whole messages, aligned as the later ones: swarm-window.ts loneRun).
      const open = f.swarm.links.links.get(s.peer);
      if (open?.state === 'open') fit(s, open);
      const run = loneRun(s);
      const chunks = f.state.length;
      // From a random place, as rarest first breaks ties: readers that start together do not all ask for the first run.
      const last = Math.max(0, chunks - run);
      // Whole messages, or a stream link's block: aligned as the later runs are, so none is cut in two.
      const first = s.aligned || streamRuns(s) ? Math.floor(Math.min(f.spot, last) / run) * run : Math.min(Math.floor(f.spot / run) * run, last);
      return await new Promise<Uint8Array>((got, fail: Lead['fail']) => ask(f, s, first, Math.min(chunks, first + run), { got, fail }));
    }
    const link = await f.swarm.links.linkTo(s.peer, s.readmits > 0);
    fit(s, link);
    // A full holder's word comes before its leaves: the fetch starts as it says.
    const onFan = s.full ? (m: FanWord, fill: boolean) => f.heard(s, m, fill) : undefined;
    const leaves = await link.fetch(f.id, f.size, { hash: f.hash, leavesOnly: true, onFan });
    s.probation = false;
    return leaves;
  } catch (e) {
    f.failed(s, e);
    return null;
  }
}
