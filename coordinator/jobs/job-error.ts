// A submitted job refused or failed to start: its code and HTTP status (shared/error-codes.ts has the codes).
export class JobError extends Error {
  constructor(
    readonly code: 'BAD_JOB' | 'JOB_LIMIT' | 'JOB_START_FAILED',
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
