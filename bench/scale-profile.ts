// SCALE_PROFILE=<folder> (issue 14, session 14): the coordinator of bench:scale
// profiles each job alone, not its nodes' joins and idle windows as --cpu-prof
// and --heap-prof would: a CPU profile and V8's sampling heap profile (what was
// allocated, by stack, sampled every SAMPLING_BYTES) from the job's first submit
// until its last result, written as <name>.cpuprofile and <name>.heapprofile
// (Chrome DevTools reads both).
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes between two heap samples: V8's default is 32 KiB; 16 KiB gives ~6 samples a 1,000 tasks at 0.1 KiB a task. */
const SAMPLING_BYTES = 16 * 1024;

/**
 * SCALE_PROFILE_LIVE=1: the heap profile holds what is alive at the job's end, not all it allocated.
 * SCALE_PROFILE_LIVE=survived: what survived a scavenge (samples a scavenge freed are dropped, those a full GC
 * freed are kept): what scavenges copy and promote, by allocation site (issue 14, session 23).
 */
const LIVE = process.env.SCALE_PROFILE_LIVE;

/** The profile message of bench:scale's IPC: a name starts a job's profiles, none ends and writes them. */
export type ProfileRequest = { k: 'profile'; name?: string };

const post = <T>(s: Session, method: string, params?: object): Promise<T> =>
  new Promise((resolve, reject) => s.post(method, params, (err, res) => (err ? reject(err) : resolve(res as T))));

/** Profiles between start(name) and stop() into `dir`; stop() answers the files written. */
export class JobProfiler {
  private readonly s = new Session();
  private name: string | null = null;

  constructor(private readonly dir: string) {
    // A folder not made yet is made (a missing one killed the coordinator at the job's end, its run lost).
    mkdirSync(dir, { recursive: true });
    this.s.connect();
  }

  async start(name: string): Promise<void> {
    if (this.name !== null) await this.stop();
    this.name = name;
    await post(this.s, 'Profiler.enable');
    await post(this.s, 'Profiler.start');
    await post(this.s, 'HeapProfiler.enable');
    // Samples of objects a GC has freed are kept: what a job allocates, not what it leaves. SCALE_PROFILE_LIVE=1:
    // only what is alive at the job's last result (its task and object records until the driver frees them:
    // what scavenges copy and promote, issue 14).
    await post(this.s, 'HeapProfiler.startSampling', {
      samplingInterval: SAMPLING_BYTES,
      includeObjectsCollectedByMajorGC: LIVE !== '1',
      includeObjectsCollectedByMinorGC: LIVE !== '1' && LIVE !== 'survived',
    });
  }

  async stop(): Promise<string[]> {
    const name = this.name;
    if (name === null) return [];
    this.name = null;
    const { profile: cpu } = await post<{ profile: object }>(this.s, 'Profiler.stop');
    const { profile: heap } = await post<{ profile: object }>(this.s, 'HeapProfiler.stopSampling');
    const files = [join(this.dir, `${name}.cpuprofile`), join(this.dir, `${name}.heapprofile`)];
    writeFileSync(files[0], JSON.stringify(cpu));
    writeFileSync(files[1], JSON.stringify(heap));
    return files;
  }
}
