// How the task manager, the actor manager and the verifier call one another: coordinator.ts
// creates the three and passes these hooks (the task manager is read late, once it exists).
import { ActorManager, type ActorHooks } from '../actors/actors.js';
import { depsOf } from '../lineage/lineage.js';
import type { ObjectDirectory } from '../objects/directory.js';
import type { VerifiedTasks } from '../verify/verifier.js';
import type { Scheduler } from './scheduler.js';
import type { TaskManager } from './tasks.js';
import { inlineArgs } from './task-values.js';

/** What the actor manager asks of the task manager (coordinator.ts wires them; `tasks` is read late). */
export function actorHooks(tasks: () => TaskManager, dir: ObjectDirectory, scheduler: Scheduler): ActorHooks {
  return {
    dispatch: (t, n) => tasks().assign(t, n),
    fail: (t, f) => tasks().finishFailed(t, f),
    release: (t) => tasks().unplace(t),
    recreate: (t) => scheduler.enqueue(t, true), // queued again, at the front
    holdArgs: (spec, sign) => {
      for (const id of depsOf(spec)) {
        if (sign > 0) dir.addRef(id);
        else dir.decRef(id);
      }
    },
    replay: (spec, n) => {
      const m = tasks();
      m.onPlaced(spec, n);
      n.session.send({ t: 'assign', spec, inline: inlineArgs(dir, spec), fn: undefined });
    },
    unpin: (id) => dir.decRef(ActorManager.creationObject(id)),
    nameClaimed: (t) => tasks().nameClaimed(t),
  };
}

/** What the verifier asks of the task manager. */
export function verifiedTasks(tasks: () => TaskManager): VerifiedTasks {
  return {
    unplace: (t) => tasks().unplace(t),
    completeDone: (t, m, s) => tasks().completeDone(t, m, s),
    finishFailed: (t, f) => tasks().finishFailed(t, f),
  };
}
