// The driver's handler table: each coordinator message kind a driver
// receives, routed to the part of the driver that owns it (null: not a driver's).
import type { ObjectId } from '../ids.js';
import type { Handlers, MsgOf } from '../protocol/messages.js';
import type { ObjectFetcher } from '../transfer/fetcher.js';
import type { PeerLinks } from '../transfer/links.js';
import type { IceConfig } from '../transfer/raw-peer.js';
import type { DriverQuestions } from './driver-questions.js';
import type { ObjectClient } from './object-client.js';

/** What the handlers reach of a driver (DriverCore implements it). */
export interface DriverContext {
  readonly objects: ObjectClient;
  readonly links: PeerLinks | null;
  /** Direct submission (driver-direct.ts); null: no peer links, or off. */
  readonly direct: { lease(m: MsgOf<'lease'>): void } | null;
  readonly fetcher: ObjectFetcher;
  /** Task groups this driver owns (driver-groups.ts). */
  readonly groups: { onReady(m: MsgOf<'groupReady'>): void };
  readonly questions: DriverQuestions;
  /** Large puts of this driver, served on request. */
  readonly ownLarge: ReadonlyMap<ObjectId, Uint8Array>;
  /** The ICE servers for new peer links (refreshed by `ice` messages). */
  ice: IceConfig | undefined;
  uploadArtifact(hash: string): void;
  onError(m: MsgOf<'error'>): void;
  onWarn(m: MsgOf<'warn'>): void;
  onOutput(m: MsgOf<'output'>): void;
  freed(ids: ObjectId[]): void;
}

export const handlers: Handlers<DriverContext> = {
  welcome: null, // handled while connecting
  submitGroup: null,
  groupRelease: null,
  materialize: null,
  groupReady: (c, m) => c.groups.onReady(m),
  assignGroup: null,
  cancelGroup: null,
  groupDone: null,
  groupHandBack: null,
  groupStarted: null,
  groupCallOut: null,
  ice: (c, m) => (c.ice = m.ice),
  ready: (c, m) => c.objects.onReady(m),
  sync: (c, m) => c.objects.onSync(m.x),
  chunk: (c, m) => c.objects.onChunk(m),
  xferFail: (c, m) => c.objects.onXferFail(m),
  signal: (c, m) => c.links?.onSignal(m.peer, m.data),
  located: (c, m) => c.fetcher.onLocated(m),
  unreachable: (c, m) => c.links?.unreachable(m.peer),
  locate: null,
  peerBytes: null,
  badHolder: null,
  serve: (c, m) => void c.objects.serve(m.x, c.ownLarge.get(m.id), m.w),
  more: (c, m) => c.objects.onMore(m),
  upload: (c, m) => c.uploadArtifact(m.hash),
  artifact: null,
  error: (c, m) => c.onError(m),
  output: (c, m) => c.onOutput(m),
  warn: (c, m) => c.onWarn(m),
  actorInfo: (c, m) => c.questions.onActorInfo(m),
  info: (c, m) => c.questions.onInfo(m),
  ask: null,
  // The GCS freed these: the bytes of our large puts among them can go.
  free: (c, m) => c.freed(m.ids),
  forget: null,
  killActor: null,
  getActor: null,
  actorCheckpoint: null,
  // messages only nodes or the coordinator receive
  hello: null,
  fn: null,
  submit: null,
  put: null,
  subscribe: null,
  took: null,
  unplaced: null,
  lease: (c, m) => c.direct?.lease(m),
  fetch: null,
  borrow: null,
  release: null,
  cancel: null,
  heartbeat: null,
  started: null,
  blocked: null,
  done: null,
  failed: null,
  stored: null,
  dropped: null,
  log: null,
  assign: null,
  cancelTask: null,
  capacity: null,
  handBack: null,
  leaving: null,
  giveBack: null,
  hurry: null,
  holding: null,
};
