// The coordinator's message handlers: one per message kind a driver or a
// node may send (the table lists every kind; a new kind does not compile
// until it is handled here or marked null). Each returns an error text when
// it refuses a message; the connection stays open.
import { isArtifactObject, isPutObject, ownId, rootTaskId, taskOfObject } from '../shared/ids.js';
import { functionIdOf } from '../shared/env/declare.js';
import type { Msg, MsgOf } from '../shared/protocol/messages.js';
import type { NodeRecord } from './gcs/tables.js';
import { sentFunction } from './nodes/load.js';
import { ActorManager } from './actors/actors.js';
import type { Managers } from './managers.js';
import type { Session } from './session.js';
import type { Looked } from './scheduler/task-submit.js';
import { notDirect } from '../shared/protocol/direct.js';
import * as groups from './groups/group-handlers.js';
import * as giving from './node-giving.js';
import { nodeOf, type Handler } from './handler-kit.js';

export type { Handler };

/** Whether node session `s` runs a task of job `job` (its tasks act within their job only). */
function runsTaskOfJob(c: Managers, s: Session, job: string): boolean {
  const n = nodeOf(c, s);
  if (!n) return false;
  for (const t of n.tasks) if (t.spec.jobId === job) return true;
  return false;
}

/**
 * What a node's `cancel` or `killActor` would be refused or dropped for now, that a record on its way could change
 * (record-waits.ts): the job of the task or actor it names, when the node runs no recorded task of that job (its
 * direct task's record comes from the driver's socket), or the task or actor it names, unknown here. Else null.
 */
export function rightAwaited(c: Managers, s: Session, m: Msg): string | null {
  if (m.t === 'cancel') {
    const task = taskOfObject(m.id);
    const t = c.gcs.tasks.get(task);
    if (!t) return c.gcs.objects.has(m.id) ? null : task;
    return runsTaskOfJob(c, s, t.spec.jobId) ? null : t.spec.jobId;
  }
  if (m.t === 'killActor') {
    const a = c.actors.get(m.id);
    if (!a) return c.gcs.tasks.has(m.id) ? null : m.id;
    return s.held.has(ActorManager.creationObject(m.id)) || runsTaskOfJob(c, s, a.job) ? null : a.job;
  }
  return null;
}

/** A live node as Ray's `nodes()` lists it: what it has and what is free now (tasks and live actors take theirs). */
function nodeInfo(n: NodeRecord) {
  const available: Record<string, number> = {};
  for (const [k, v] of Object.entries(n.resources)) available[k] = Math.max(0, v - (n.inflight[k] ?? 0));
  return { nodeId: n.id, name: n.name, kind: n.kind, alive: true, resources: { ...n.resources }, available };
}

/** Whether session `s` may create objects and tasks under parent task `parent`. */
function mayActFor(c: Managers, s: Session, parent: string): boolean {
  if (s.role === 'driver') return parent === rootTaskId(s.jobId!);
  // A task group's member has a record from its call out on (groupCallOut, sent before its first put or submit).
  const t = c.gcs.tasks.get(parent as never);
  return !!t && ((t.node !== null && t.node.session === s) || c.verifier.runsOn(t, s));
}

/**
 * A driver's task that it sent straight to node `m.to` (shared/protocol/direct.ts): recorded as assigned there
 * while the job holds a lease on it (that node's parked messages are then handled, record-waits.ts). A node that left since (its
 * lease revoked while this submission was on its way) may have run it: it runs again as its next attempt, as a
 * lost node's tasks do, so a task runs once per attempt. Else (a forged lease) placed here, with a warning: the
 * node refuses it too, and the driver's `unplaced` finds it placed. Whatever came of it, the node's messages held
 * for a record are looked at again (record-waits.ts: the task's own reports, puts and submits may have come first).
 */
function direct(c: Managers, s: Session, m: MsgOf<'submit'>, looked: Looked): string | null {
  const err = recordDirect(c, s, m, looked);
  c.leases.submitted(m.to!);
  return err;
}

function recordDirect(c: Managers, s: Session, m: MsgOf<'submit'>, looked: Looked): string | null {
  const l = s.role === 'driver' ? c.leases.leased(s, m.to!) : { why: 'only a driver sends tasks straight to nodes' };
  const why = 'why' in l ? l.why : notDirect(m.spec);
  if (why !== null) {
    s.send({ t: 'warn', code: 'REFUSED', message: `task ${m.spec.taskId} sent straight to a node: ${why}; placed by the coordinator`, ref: m.spec.taskId });
    return c.tasks.submit(m.spec, s, null, looked);
  }
  if ('lost' in l) return c.tasks.submitLost(m.spec, s, looked, (t) => c.ends.lost(t, l.lost));
  const n = (l as { node: NodeRecord }).node;
  if (c.leases.givenUp(n.session, m.spec.taskId)) {
    // The node's messages about it were parked too long or too many (parked-messages.ts): that run is given up and the
    // task runs again as its next attempt, as a lost node's; the node's late reports of that run are late, not lies.
    c.honesty.placed(n.session, m.spec.taskId);
    return c.tasks.submitLost(m.spec, s, looked, (t) => c.ends.lost(t, n.id));
  }
  const err = c.tasks.submit(m.spec, s, n, looked);
  if (err !== null) return err;
  const t = c.gcs.tasks.get(m.spec.taskId);
  if (t) c.leases.recorded(t);
  return null;
}

/** A node reported on a task it was never given: a lie, unless it is only late (issue 8). */
function madeUp(c: Managers, s: Session, what: string, taskId: string): void {
  const n = nodeOf(c, s);
  if (n && !c.honesty.mayReport(s, taskId as never)) c.trust.offence(n.id, `${what} for task ${taskId.slice(0, 12)}, which it was never assigned`);
}

export const handlers: { [K in Msg['t']]: Handler<K> | null } = {
  hello: null,
  welcome: null,
  submitGroup: groups.submitGroup,
  groupRelease: groups.groupRelease,
  materialize: groups.materialize,
  groupReady: null,
  assignGroup: null,
  cancelGroup: null,
  groupDone: groups.groupDone,
  groupHandBack: groups.groupHandBack,
  groupStarted: groups.groupStarted,
  groupCallOut: groups.groupCallOut,
  ice: null,
  assign: null,
  cancelTask: null,
  giveBack: null,
  hurry: null,
  free: null,
  forget: null,
  serve: null,
  more: null,
  located: null,
  unreachable: null,
  ready: null,
  output: null,
  info: null,
  error: (c, s, m) => {
    c.gcs.event('client-error', `${s.label} reported ${m.code}: ${m.message}`);
  },
  fn: (c, s, m) => {
    if (functionIdOf(m.f) !== m.f.fnId) return `function id ${m.f.fnId} does not match its source`;
    const f = c.gcs.functions.get(m.f.fnId) ?? c.gcs.addFunction(m.f);
    // A node's task announced it: the node has its source (and is told to forget it with its jobs).
    const n = s.role === 'node' ? nodeOf(c, s) : undefined;
    if (n) sentFunction(n, f.fnId);
    // A driver's function is its job's from now on (it leaves with the job's end, even if no task named it); a node's,
    // the job its task runs for (shared/node/announced-functions.ts: before that job's submits of it come, another job
    // that used it may end). A node naming a job it runs nothing of only keeps the function while that job runs.
    const jobId = s.role === 'driver' ? s.jobId : s.role === 'node' ? m.job : undefined;
    const job = jobId ? c.gcs.jobs.get(jobId) : undefined;
    if (job?.state === 'running') c.gcs.jobUses(job, f);
  },
  submit: (c, s, m) => {
    const spec = m.spec;
    if (spec.attempt !== 0) return 'a new task starts at attempt 0';
    if (!mayActFor(c, s, spec.parentId)) return `task ${spec.taskId}: parent ${spec.parentId} is not yours`;
    if (s.role === 'driver' && spec.jobId !== s.jobId) return `task ${spec.taskId} is not of your job`;
    // The id kept on record, copied out of the frame before its first lookup: its hash is computed once (issue 14).
    spec.taskId = ownId(spec.taskId);
    // Looked up once, here and for admit (task-submit.ts).
    const looked = { job: c.gcs.jobs.get(spec.jobId), existing: c.gcs.tasks.get(spec.taskId), owned: true };
    if (looked.job && !looked.existing) {
      const k = looked.job.counts;
      const over = c.limits.tasks(k.submitted - k.finished - k.failed - k.cancelled);
      if (over) return void s.fail(over.code, over.message);
    }
    if (m.to !== undefined) return direct(c, s, m, looked);
    // `local`: the node runs it already (bottom-up). Never so for an actor's task: our nodes do not say it, and a node
    // that did would place an actor on itself past the scheduler and a mesh's name claim (session 38).
    const local = m.local && !spec.actor ? (nodeOf(c, s) ?? null) : null;
    return c.tasks.submit(spec, s, local, looked);
  },
  put: (c, s, m) => {
    if (isArtifactObject(m.id) && c.artifacts.has(m.id)) return c.artifacts.put(s, m);
    if (!isPutObject(m.id) || !mayActFor(c, s, taskOfObject(m.id))) return `put ${m.id}: not a put id of yours`;
    if (m.v && m.v.byteLength !== m.size) return `put ${m.id}: size ${m.size} does not match ${m.v.byteLength} bytes`;
    const existing = c.dir.get(m.id);
    if (existing) {
      // The same task re-ran, or a driver that resumed announces it again: the object is the same (deterministic ids).
      if (!m.v) c.dir.addCopy(existing, s);
      if (!s.held.has(m.id)) c.dir.hold(s, m.id);
      return;
    }
    const job = s.role === 'driver' ? s.jobId! : c.gcs.tasks.get(taskOfObject(m.id))!.spec.jobId;
    const o = c.dir.create(m.id, job, 0);
    c.dir.hold(s, m.id);
    if (m.v) c.dir.setReady(o, { v: m.v, size: m.size, contains: m.refs });
    else c.dir.setReady(o, { size: m.size, hash: m.hash, location: s, contains: m.refs });
  },
  artifact: (c, s, m) => c.artifacts.offer(s, m),
  upload: null,
  subscribe: (c, s, m) => c.artifacts.subscribe(s, m.ids), // the directory's, but an undeclared artifact waits for its driver
  sync: (_c, s, m) => s.send({ t: 'sync', x: m.x }),
  fetch: (c, s, m) => {
    c.honesty.asked(s, m.id);
    c.relay.fetch(s, m);
  },
  // Peer links (issue 4): signalling, holder lookup, and bytes receivers moved peer-to-peer.
  signal: (c, s, m) => c.signalling.relay(s, m),
  locate: (c, s, m) => {
    c.honesty.asked(s, m.id);
    c.signalling.locate(s, m);
  },
  peerBytes: (c, _s, m) => {
    c.gcs.stats.bytesPeer += m.n;
  },
  // A reader caught a holder lying (issue 17): an offence for the holder, if
  // the reader asked for the object and the accused node holds it (or, in a
  // swarm, is fetching it too and so serves its chunks). One reader accuses a
  // node at most once, so one liar cannot talk an honest node out.
  badHolder: (c, s, m) => {
    const n = c.gcs.nodes.get(m.peer as never);
    const o = c.dir.get(m.id);
    const serves = n && o && (o.locations.has(n.session) || c.signalling.inSwarm(m.id, n.session));
    if (!n || n.session === s || !serves) return `badHolder: ${m.peer.slice(0, 12)} is not a node holding ${m.id.slice(0, 12)}`;
    if (!c.honesty.mayAccuse(s, m.id, n.id)) return;
    c.trust.offence(n.id, `sent a chunk of object ${m.id.slice(0, 12)} that does not match its hash (found by ${s.label})`);
  },
  chunk: (c, s, m) => c.relay.chunk(s, m),
  xferFail: (c, s, m) => c.relay.fail(s, m),
  borrow: (c, s, m) => {
    for (const id of m.ids) c.dir.hold(s, id);
  },
  release: (c, s, m) => {
    for (const id of m.ids) c.dir.unhold(s, id);
  },
  took: (c, s, m) => c.dir.took(s, m.ids),
  unplaced: (c, s, m) => {
    // The node refused the task the driver sent it (busy, or no lease there): placed here, if it is still on that node.
    const t = c.gcs.tasks.get(m.taskId);
    if (!t || t.spec.jobId !== s.jobId || !c.leases.refused(t) || t.state !== 'assigned' || !t.node) return;
    c.ends.unplaced(t);
  },
  lease: null,
  actorInfo: null,
  warn: null,
  actorCheckpoint: (c, s, m) => {
    const a = c.actors.get(m.id);
    if (!a || a.node?.session !== s) return `actor ${m.id} does not live on this node`;
    c.actors.checkpointed(m.id, m.after, m.state);
  },
  killActor: (c, s, m) => {
    const a = c.actors.get(m.id);
    if (!a) return null;
    // Its job's driver, its tasks' nodes, or any session holding a handle to it may kill it.
    const held = s.held.has(ActorManager.creationObject(m.id));
    const ofJob = s.role === 'driver' ? a.job === s.jobId : runsTaskOfJob(c, s, a.job);
    if (!held && !ofJob) return `actor ${m.id} is not yours`;
    c.actors.kill(m.id, s.role === 'driver' ? 'killed by its driver' : 'killed by a task');
  },
  getActor: (c, s, m) => {
    const ns = m.ns ?? c.actors.namespaceOf((s.role === 'driver' ? s.jobId : m.job) ?? undefined);
    const a = c.actors.lookup(m.name, ns);
    if (a && c.dir.hold(s, ActorManager.creationObject(a.id))) return void s.send({ t: 'actorInfo', x: m.x, id: a.id, className: a.className });
    const none = `no live actor named '${m.name}'${ns ? ` in namespace '${ns}'` : ''}`;
    if (a || !c.actors.meshWide) return void s.send({ t: 'actorInfo', x: m.x, error: none });
    // Not here: another coordinator of the mesh may host it (its calls are not routed over the links yet: session 38).
    c.actors.lookupElsewhere(m.name, ns).then(
      (at) =>
        s.send({
          t: 'actorInfo',
          x: m.x,
          error: at ? `${none} at this coordinator: it lives at coordinator ${at.url} of the mesh; connect to ${at.url} to call it` : none,
        }),
      (e: Error) => s.send({ t: 'actorInfo', x: m.x, error: `${none} here, and the mesh's names could not be read: ${e.message}` }),
    );
  },
  ask: (c, s, m) => {
    if (m.q === 'nodes') return void s.send({ t: 'info', x: m.x, nodes: c.scheduler.nodeList.map(nodeInfo) });
    const ns = m.all ? null : (m.ns ?? c.actors.namespaceOf((s.role === 'driver' ? s.jobId : m.job) ?? undefined));
    if (!c.actors.meshWide) return void s.send({ t: 'info', x: m.x, actors: c.actors.named(ns) });
    // Mesh-wide, as Ray's list_named_actors is cluster-wide; ours alone when Redis does not answer.
    c.actors.namedAcross(ns).then(
      (actors) => s.send({ t: 'info', x: m.x, actors }),
      () => s.send({ t: 'info', x: m.x, actors: c.actors.named(ns) }),
    );
  },
  cancel: (c, s, m) => {
    const t = c.gcs.tasks.get(taskOfObject(m.id));
    if (!t) return null;
    // A driver cancels within its job; a node on behalf of a task of that job it is running.
    if (s.role === 'driver' ? t.spec.jobId !== s.jobId : !runsTaskOfJob(c, s, t.spec.jobId)) return `task of ${m.id} is not of your job`;
    c.ends.cancel(m.id, m.force);
  },
  heartbeat: (c, s, m) => {
    const n = nodeOf(c, s);
    if (n) c.membership.heartbeat(n, m);
  },
  started: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    if (typeof t === 'string') return null; // a late report about a task moved elsewhere
    c.tasks.started(t, m.ex);
  },
  blocked: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    if (typeof t !== 'string') c.tasks.setBlocked(t, m.blocked);
  },
  done: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    // A late report for a task that moved on (cancelled, job ended, retried): not news.
    if (typeof t === 'string') return void (c.gcs.stats.staleReports++, madeUp(c, s, 'a result', m.taskId));
    c.membership.seen(nodeOf(c, s)!);
    return c.tasks.done(t, m, s);
  },
  failed: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    if (typeof t === 'string') return void (c.gcs.stats.staleReports++, madeUp(c, s, 'a failure', m.taskId));
    if (m.ms !== undefined) c.tasks.ran(t, m.ms, m.ex);
    if (s.meshLink !== undefined && m.failure.code === 'NODE_LOST') {
      // Another coordinator refused it: it may have taken the job over while we were paused past the lease.
      // Ask the lease first; a job let go fails nothing here (its driver goes on at the lease holder).
      void c.jobs.leaseHeld(t.spec.jobId).then((ours) => {
        const still = c.tasks.ownedBy(s, m.taskId, m.attempt);
        if (ours && typeof still !== 'string') c.tasks.reportedFailed(still, m.failure);
      });
      return;
    }
    c.tasks.reportedFailed(t, m.failure);
  },
  stored: (c, s, m) => {
    if (!c.honesty.mayStore(s, m.id)) {
      const n = nodeOf(c, s);
      if (n) c.trust.offence(n.id, `claimed a copy of object ${m.id.slice(0, 12)}, which it never asked for`);
      return;
    }
    c.dir.copyStored(s, m.id, m.size, m.hash);
  },
  dropped: (c, s, m) => {
    for (const id of m.ids) c.dir.dropCopy(id, s, `its last copy was dropped by ${s.label}`);
  },
  log: (c, s, m) => c.taskLogs.line(c, s, m),
  capacity: giving.capacity,
  handBack: giving.handBack,
  leaving: giving.leaving,
  holding: (c, s, m) => {
    const refused = m.objects.filter((h) => !c.dir.announced(s, h));
    // A node that moved here from a coordinator of the mesh that died: copies of jobs not taken over yet wait (issue 15).
    const stale = refused.length && c.jobs.mesh ? c.jobs.mesh.parkHoldings(s, refused) : refused;
    if (stale.length) s.send({ t: 'free', ids: stale.map((h) => h.id) });
  },
};
