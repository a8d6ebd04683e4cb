// The coordinator of bench:scale, as a child process of the bench (its CPU
// and RSS are its own): startCoordinator with an in-memory GCS, plus a probe
// over the IPC channel that reads this process's CPU time, RSS and worst
// event-loop delay (perf_hooks) without going through the coordinator's own
// event loop queue more than one message.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startCoordinator } from '../coordinator/server.js';

export type ProbeRequest = { k: 'probe'; reset: boolean };
export interface Probe {
  cpuUs: number;
  rssBytes: number;
  /** Worst event-loop delay since the last reset (ms). */
  loopMaxMs: number;
  loopP99Ms: number;
  /**
   * The most CPU time (ms) the process spent between two 10 ms ticks since the
   * last reset: what one turn of the loop cost, whatever the machine's load. On
   * a shared machine a turn of 20 ms CPU can be a loop delay of seconds of wall
   * time (the process waits for a core); this figure says which it was.
   */
  loopMaxCpuMs: number;
}

async function main(): Promise<void> {
  const token = process.env.SCALE_TOKEN ?? '';
  // SCALE_LIFT_LIMITS=1 turns per-address limits off (to measure a coordinator
  // whose defaults would refuse thousands of nodes from one address).
  const lift = process.env.SCALE_LIFT_LIMITS === '1';
  const running = await startCoordinator({
    memory: true,
    port: 0,
    token,
    ...(lift ? { limits: { connectionsPerAddress: 1e9 }, httpLimits: false as const } : {}),
  });
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let lastCpu = cpuNow();
  let worstCpu = 0;
  setInterval(() => {
    const c = cpuNow();
    worstCpu = Math.max(worstCpu, c - lastCpu);
    lastCpu = c;
  }, 10).unref();
  process.on('message', (m: ProbeRequest) => {
    if (m.k !== 'probe') return;
    const cpu = process.cpuUsage();
    const p: Probe = {
      cpuUs: cpu.user + cpu.system,
      rssBytes: process.memoryUsage().rss,
      loopMaxMs: eld.max / 1e6,
      loopP99Ms: eld.percentile(99) / 1e6,
      loopMaxCpuMs: worstCpu,
    };
    if (m.reset) {
      eld.reset();
      worstCpu = 0;
    }
    process.send!(p);
  });
  process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
  process.send!({ k: 'listening', url: running.url });
}

void main();
