// bench:scale's counts per task (issue 14): what a job cost the coordinator in
// frames, messages, nodes touched and index re-filings, from the /api/stats
// counters (coordinator/traffic.ts) before and after the job. Counts hold on a
// loaded machine where times do not.
import { round } from './harness.js';

export interface Counts {
  /** Per task: frames from nodes (keepalives apart: idle nodes send them whatever the job) and to nodes. */
  nodeFramesIn: number;
  keepalivesIn: number;
  nodeFramesOut: number;
  nodeFrames: number;
  /** Per task: messages by kind (the kinds a job moves). */
  msgsIn: Record<string, number>;
  msgsOut: Record<string, number>;
  /** Per task: nodes given work per turn (summed), re-filings in the node index and those that moved a node. */
  nodeTurns: number;
  refiled: number;
  moved: number;
  /** Share of tasks placed on a node the scheduler was filling (coordinator/scheduler/packing.ts). */
  filled: number;
  /** Tasks per node frame, out (assignments) and in (results). */
  tasksPerFrameOut: number;
  tasksPerFrameIn: number;
  /** Per task: frames to and from the other coordinators of the mesh (Redis publishes, coordinator/mesh/bus.ts). */
  meshFramesOut: number;
  meshFramesIn: number;
}

const KINDS_IN = ['done', 'started', 'heartbeat', 'failed', 'submit', 'release'];
const KINDS_OUT = ['assign', 'ready', 'giveBack', 'free'];

export function counts(s0: Record<string, number>, s1: Record<string, number>, tasks: number): Counts {
  const d = (k: string) => ((s1[k] ?? 0) - (s0[k] ?? 0)) / tasks;
  const msgsIn: Record<string, number> = {};
  const msgsOut: Record<string, number> = {};
  for (const k of KINDS_IN) msgsIn[k] = d(`traffic.in.${k}`);
  for (const k of KINDS_OUT) msgsOut[k] = d(`traffic.out.${k}`);
  const nodeFramesIn = d('traffic.nodeFramesIn');
  const nodeFramesOut = d('traffic.nodeFramesOut');
  return {
    nodeFramesIn,
    keepalivesIn: d('traffic.keepalivesIn'),
    nodeFramesOut,
    nodeFrames: nodeFramesIn + nodeFramesOut,
    msgsIn,
    msgsOut,
    nodeTurns: d('traffic.nodeTurns'),
    refiled: d('traffic.refiled'),
    moved: d('traffic.moved'),
    filled: d('schedulerFilled'),
    tasksPerFrameOut: nodeFramesOut > 0 ? 1 / nodeFramesOut : 0,
    tasksPerFrameIn: nodeFramesIn > 0 ? 1 / nodeFramesIn : 0,
    meshFramesOut: d('meshFramesOut'),
    meshFramesIn: d('meshFramesIn'),
  };
}

const kinds = (m: Record<string, number>) =>
  Object.entries(m)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${round(v, 3)}`)
    .join(', ');

export function countsLine(c: Counts): string {
  return (
    `per task: node frames in ${round(c.nodeFramesIn, 3)} (${round(c.tasksPerFrameIn, 1)} tasks a frame; and keepalives ${round(c.keepalivesIn, 3)}), out ${round(c.nodeFramesOut, 3)} (${round(c.tasksPerFrameOut, 1)} tasks a frame); ` +
    `messages in: ${kinds(c.msgsIn)}; out: ${kinds(c.msgsOut)}; nodes given work a turn ${round(c.nodeTurns, 3)}, index re-filings ${round(c.refiled, 2)} (moved ${round(c.moved, 2)}); ${round(c.filled * 100, 1)}% placed by packing` +
    (c.meshFramesOut + c.meshFramesIn > 0 ? `; mesh frames out ${round(c.meshFramesOut, 4)}, in ${round(c.meshFramesIn, 4)}` : '')
  );
}
