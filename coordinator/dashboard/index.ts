// Wires issue 7's parts into a coordinator: task history, job runner, the
// live document and its socket, the state API and the page.
import type { FastifyInstance } from 'fastify';
import type { Coordinator } from '../coordinator.js';
import { createAccess, type Access } from '../http/access.js';
import { registerDashboard } from '../http/dashboard.js';
import { registerState } from '../http/state.js';
import { RemoteRows } from './remote-rows.js';
import { JobRunner, type JobLimits } from '../jobs/runner.js';
import { ClusterDoc } from './cluster-doc.js';
import { DashboardHub } from './sync-socket.js';
import { EndedRecords, KEEP_MS } from './recent.js';
import { TaskHistory } from './task-history.js';

export interface DashboardOptions {
  /** A read-only token for dashboards and the state API (the driver token works too). */
  viewerToken?: string;
  jobLimits?: Partial<JobLimits>;
  /** How often the document is sampled from the GCS (ms). Default 200. */
  sampleMs?: number;
}

export interface Observability {
  access: Access;
  runner: JobRunner;
  history: TaskHistory;
  doc: ClusterDoc;
  hub: DashboardHub;
  remote: RemoteRows;
  /** Called once the server listens: jobs connect back to this URL. */
  listening(url: string): void;
  close(): void;
}

export function installObservability(app: FastifyInstance, c: Coordinator, opts: DashboardOptions = {}): Observability {
  const access = createAccess(c, opts.viewerToken);
  const history = new TaskHistory(c.gcs, c.groups?.table ?? null);
  // One tap on the GCS's drops feeds both the ended records and the task history; task groups' members end without
  // a task record: their ends are told to both too (recent.ts memberEnded).
  const ended = new EndedRecords(c, KEEP_MS, history);
  const detachEnded = ended.attach();
  const runner = new JobRunner(c, opts.jobLimits);
  // Sampled in full only while a dashboard is connected (issue 14); the first to connect gets a sample first.
  const doc: ClusterDoc = new ClusterDoc(c, runner, history, (): boolean => hub.size > 0);
  const hub: DashboardHub = new DashboardHub(
    doc.doc,
    (t) => access.roleOf(t),
    () => doc.sample(),
  );
  registerState(app, { c, access, runner, history, ended });
  registerDashboard(app, hub);
  doc.start(opts.sampleMs);
  // The other coordinators' nodes and jobs of a mesh (issue 15), beside this one's: asked only while a dashboard looks.
  const remote = new RemoteRows(c, doc.doc, () => hub.size > 0);
  remote.start();
  return {
    access,
    runner,
    history,
    doc,
    hub,
    remote,
    listening: (url) => runner.listening(url),
    close() {
      doc.stop();
      remote.stop();
      hub.close();
      runner.close();
      detachEnded();
    },
  };
}
