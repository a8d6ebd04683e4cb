// HTTP to the coordinator from the CLI (and the soak). fetch pools keep-alive
// connections; a connection the server has just closed (idle timeout, or a
// busy process whose event loop noticed late) is still handed out, and the
// request on it fails with ECONNRESET / EPIPE before any handler saw it. A GET
// is safe to send again, so it is, once, on a fresh connection; other methods
// are not (a POST /api/jobs sent twice would be two jobs) and fail as they did.
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** Whether fetch failed because its socket was reset or closed under it. */
export function socketReset(e: unknown): boolean {
  const cause = (e as { cause?: { code?: string } } | null)?.cause;
  return e instanceof TypeError && typeof cause?.code === 'string' && RESET_CODES.has(cause.code);
}

/** fetch, with an idempotent request (GET, HEAD) sent once more when its socket was reset. */
export async function coordinatorFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? 'GET').toUpperCase();
  try {
    return await fetch(url, init);
  } catch (e) {
    if ((method !== 'GET' && method !== 'HEAD') || !socketReset(e) || init.signal?.aborted) throw e;
    return await fetch(url, init);
  }
}
