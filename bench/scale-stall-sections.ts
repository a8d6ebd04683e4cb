// bench:scale's SCALE_STALLS=1 report (coordinator/stall-probe.ts): the longest sections of the coordinator's loop by
// CPU since the probe before, and the turn of most CPU, logged after each window.
import { log, round } from './harness.js';
import type { Probe } from './scale-coordinator.js';

/** SCALE_STALLS=1: the longest sections by CPU since the probe before (what ran, what it did) and the turn of most CPU. */
export function logStalls(what: string, p: Probe): void {
  const st = p.stalls;
  if (!st) return;
  const kinds = (k: Record<string, number>) =>
    Object.entries(k)
      .map(([n, v]) => `${n} ${v}`)
      .join(' ');
  const top = st.top.map(
    (s) =>
      `${round(s.cpuMs, 1)} ms CPU (${round(s.wallMs, 0)} wall, gc ${round(s.gcMs, 0)}) ${s.what}: frames in ${s.counts.framesIn} (+${s.counts.keepalivesIn} keepalives), msgs ${s.counts.msgsIn} [${kinds(s.kinds)}], frames out ${s.counts.framesOut}, assigned ${s.counts.assigned}, nodes given work ${s.counts.nodeTurns}`,
  );
  const w = st.worstTurn;
  const turn = w
    ? `${round(w.cpuMs, 1)} ms CPU (${round(w.wallMs, 0)} wall) in ${w.sections} sections: ${w.by.map((g) => `${g.what} x${g.n} ${round(g.cpuMs, 1)} ms`).join('; ')}`
    : 'none';
  log(`${what}: ${st.sections} sections in ${st.turns} turns, ${st.turnsOver50} turns over 50 ms CPU; the turn of most CPU: ${turn}`);
  for (const t of top) log(`${what}:   ${t}`);
}
