// The node's handler table: each coordinator message kind a node receives,
// routed to the part of the runtime that owns it (null: not a node's message).
import type { ObjectId } from '../ids.js';
import type { Handlers, MsgOf } from '../protocol/messages.js';
import type { NodeHandlerContext } from './node-context.js';

type NodeHandlers = Handlers<NodeHandlerContext>;

/** A task the coordinator placed here: admitted, or handed back when it cannot run here now. */
function assign(n: NodeHandlerContext, m: MsgOf<'assign'>): void {
  if (m.fn) n.fns.set(m.fn.fnId, m.fn);
  else if (m.spec.actor?.kind !== 'call' && !n.fns.has(m.spec.fnId)) {
    // Its source was taken by a `forget` that crossed its announcement: back, said so (the next assign carries it).
    n.send({ t: 'handBack', tasks: [{ taskId: m.spec.taskId, attempt: m.spec.attempt, noSource: true }] });
    return;
  }
  if (n.paused && !('actor' in m.spec && m.spec.actor)) {
    // Assigned before the coordinator heard that we paused.
    n.send({ t: 'handBack', tasks: [{ taskId: m.spec.taskId, attempt: m.spec.attempt }] });
    return;
  }
  // Most assigns carry no inline values: no map for them.
  let inline: Map<ObjectId, Uint8Array> | undefined;
  for (const x of m.inline) {
    (inline ??= new Map()).set(x.id, x.v);
    n.inlineBytes.in += x.v.byteLength;
  }
  for (const a of m.spec.args) if (a.v) n.inlineBytes.in += a.v.byteLength;
  n.tasks.admit(m.spec, inline, m.sc);
}

export const handlers: NodeHandlers = {
  welcome: null,
  ice: (n, m) => (n.ice = m.ice),
  submitGroup: null,
  groupRelease: null,
  materialize: null,
  groupReady: null,
  assignGroup: (n, m) => n.groups.assign(m),
  cancelGroup: (n, m) => n.groups.cancel(m.g, m.idx),
  groupDone: null,
  groupHandBack: null,
  groupStarted: null,
  groupCallOut: null,
  assign,
  cancelTask: (n, m) => n.tasks.cancel(m.taskId, m.force, m.attempt),
  giveBack: (n, m) => n.tasks.giveBack(m.n, m.ids),
  hurry: (n, m) => n.direct.hurry(m.ids),
  forget: (n, m) => n.forgetFunctions(m.fns),
  free: (n, m) => {
    for (const id of m.ids) n.store.delete(id);
  },
  // Issue 17: a spilled object streams from its tier through the relay too, never loaded whole.
  serve: (n, m) => void n.objects.serve(m.x, n.store.source(m.id), m.w),
  more: (n, m) => n.objects.onMore(m),
  upload: (n, m) => void n.access.putArtifact(m.hash),
  artifact: null,
  ready: (n, m) => n.objects.onReady(m),
  sync: (n, m) => n.objects.onSync(m.x),
  chunk: (n, m) => n.objects.onChunk(m),
  xferFail: (n, m) => n.objects.onXferFail(m),
  signal: (n, m) => n.links?.onSignal(m.peer, m.data),
  located: (n, m) => n.fetcher.onLocated(m),
  unreachable: (n, m) => n.links?.unreachable(m.peer),
  locate: null,
  peerBytes: null,
  badHolder: null,
  error: (n, m) => n.log(`coordinator: ${m.code}: ${m.message}`),
  output: null,
  killActor: (n, m) => n.actors.destroy(m.id, 'killed'),
  actorCheckpoint: null,
  actorInfo: (n, m) => n.actors.onActorInfo(m),
  info: (n, m) => n.actors.onActorInfo(m),
  ask: null,
  getActor: null,
  hello: null,
  fn: null,
  submit: null,
  put: null,
  subscribe: null,
  took: null,
  unplaced: null,
  lease: (n, m) => n.direct.lease(m),
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
  capacity: null,
  handBack: null,
  leaving: null,
  holding: null,
  warn: null,
};
