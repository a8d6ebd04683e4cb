// JSON schemas of every body, param and query the HTTP API takes (issue 12),
// checked by Fastify's built-in validation before a handler runs; a failure
// answers through http/errors.ts. The app validates without type coercion
// (server.ts): a query's numbers are digit strings here, read with Number().

const text = (max = 256) => ({ type: 'string', maxLength: max }) as const;
const digits = { type: 'string', pattern: '^[0-9]{1,15}$' } as const;

function query(properties: Record<string, object>, required: string[] = []) {
  return { type: 'object', properties: { limit: digits, offset: digits, ...properties }, required } as const;
}

export const jobParams = {
  type: 'object',
  properties: { id: text(64) },
  required: ['id'],
} as const;

export const schemas = {
  /** `after`: a cursor, 0 for the first page, then the previous page's X-Next-Cursor. */
  nodes: { querystring: query({ kind: { type: 'string', enum: ['edge', 'browser'] }, after: digits }) },
  events: { querystring: query({ since: digits, kind: text(64), job: text(64) }) },
  // A driver session's job is running or finished; a submitted job has the runner's statuses.
  jobs: {
    querystring: query({
      status: { type: 'string', enum: ['starting', 'running', 'finished', 'succeeded', 'failed', 'cancelled', 'timeout'] },
      kind: { type: 'string', enum: ['driver', 'submitted'] },
    }),
  },
  job: { params: jobParams },
  jobLog: { params: jobParams, querystring: query({ since: digits }) },
  submitJob: {
    body: {
      type: 'object',
      properties: {
        source: { type: 'string', minLength: 1, maxLength: 1 << 20, pattern: '\\S' },
        name: text(256),
        timeoutMs: { type: 'integer', minimum: 1, maximum: 2 ** 31 },
        // Checked field by field by the job runner (coordinator/jobs/env.ts), whose errors name what is wrong.
        runtimeEnv: { type: 'object' },
      },
      required: ['source'],
      additionalProperties: false,
    },
  },
  /** `after`: as for nodes; the cursor is a task's submit sequence number. */
  tasks: { querystring: query({ job: text(64), state: text(32), node: text(64), name: text(256), after: digits }) },
  /** Task groups (coordinator/groups): one row a group with its members' counts. */
  groups: { querystring: query({ job: text(64) }) },
  objects: { querystring: query({ job: text(64), state: text(32), minSize: digits }) },
  actors: { querystring: query({ job: text(64), state: text(32), name: text(256) }) },
  timeline: { querystring: query({ job: text(64), format: { type: 'string', enum: ['bars', 'trace'] } }, ['job']) },
} as const;

export type Query = Record<string, string | undefined>;
