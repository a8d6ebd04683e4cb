// Messages between the coordinator's thread and the thread that starts job processes (launch-worker.ts).

export type ToLauncher =
  /** Fork `file` with these V8 flags and send it `first` (the job's start message). */
  { k: 'start'; id: number; file: string; execArgv: string[]; first: unknown } | { k: 'kill'; id: number; signal: NodeJS.Signals } | { k: 'close' };

export type FromLauncher =
  | { k: 'spawned'; id: number; pid: number }
  | { k: 'message'; id: number; m: unknown }
  | { k: 'out' | 'err'; id: number; text: string }
  | { k: 'error'; id: number; message: string }
  | { k: 'close'; id: number; code: number | null; signal: NodeJS.Signals | null };
