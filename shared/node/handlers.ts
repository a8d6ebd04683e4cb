// The node's handler table: each coordinator message kind a node receives,
// routed to the part of the runtime that owns it (null: not a node's message).
import type { Handlers } from '../protocol/messages.js';
import type { NodeHandlerContext } from './node-context.js';

type NodeHandlers = Handlers<NodeHandlerContext>;

export const handlers: NodeHandlers = {
  welcome: null,
  ice: (n, m) => (n.ice = m.ice),
  assign: (n, m) => n.onAssign(m),
  cancelTask: (n, m) => n.tasks.cancel(m.taskId, m.force),
  giveBack: (n, m) => n.tasks.giveBack(m.n),
  free: (n, m) => {
    for (const id of m.ids) n.store.delete(id);
  },
  // Issue 17: a spilled object streams from its tier through the relay too, never loaded whole.
  serve: (n, m) => void n.store.source(m.id).then((s) => n.objects.serve(m.x, s)),
  upload: (n, m) => void n.access.putArtifact(m.hash),
  artifact: null,
  ready: (n, m) => n.objects.onReady(m),
  sync: (n, m) => n.objects.onSync(m.x),
  chunk: (n, m) => n.objects.onChunk(m),
  xferFail: (n, m) => n.objects.onXferFail(m),
  signal: (n, m) => n.links?.onSignal(m.peer, m.data),
  located: (n, m) => n.fetcher.onLocated(m),
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
  holding: null,
  warn: null,
};
