// A driver's first connection over the coordinator URLs it was given (issue 14):
// the first that answers, or the one a full coordinator sends it on to.
import { ConnectError, TabmeshError } from '../errors.js';
import { CoordinatorUrls } from '../coordinator-urls.js';
import { parseCoordinatorUrl } from './connect-help.js';
import type { ConnectOptions } from './connect-options.js';
import { refusalOf } from './driver-link.js';
import { BACKOFF, cappedAt } from '../backoff.js';

/**
 * Connects with `connectTo` to the first coordinator of `given.url` (a list, or comma-separated) that takes
 * this driver; a refusal for its connection bound moves on to the coordinator it names (coordinator-urls.ts).
 * Returns the connection and the list, to follow on later reconnects.
 */
export async function connectFirst<T>(
  given: ConnectOptions,
  connectTo: (opts: ConnectOptions & { url: string }) => Promise<T>,
): Promise<{ core: T; where: CoordinatorUrls }> {
  const list = (Array.isArray(given.url) ? given.url : given.url.split(',')).map((u) => u.trim()).filter((u) => u !== '');
  if (list.length === 0) throw new TabmeshError('BAD_ARGUMENT', 'connect({ url }) needs a coordinator URL');
  cappedAt(BACKOFF.driverReconnect, given.reconnectMaxMs, 'connect({ reconnectMaxMs })'); // checked before any connection
  const urls = list.map((u) => parseCoordinatorUrl(u));
  const where = new CoordinatorUrls(urls.map((u) => u.base));
  const tokens = new Map(urls.map((u) => [u.base, u.token]));
  // A coordinator named by a full one of the list gets the token of the one that named it.
  let token = urls[0].token;
  let tried = 1;
  for (;;) {
    const url = where.current;
    if (tokens.has(url)) token = tokens.get(url);
    try {
      const core = await connectTo({ ...given, url, token: given.token ?? token });
      where.joined();
      return { core, where };
    } catch (err) {
      if (!(err instanceof ConnectError) || err.code === 'NOT_A_COORDINATOR') throw err;
      // A full coordinator (issue 14): where it sends us, at once, under the nodes' trust rule and bound (coordinator-urls.ts).
      if (err.code === 'COORDINATOR_FULL') {
        if (where.moveOn(refusalOf(err))) continue;
        throw err;
      }
      // Another coordinator of the mesh may answer; a refusal (a wrong token) would be the same there.
      if (tried++ >= urls.length) throw err;
      where.moveOn('');
    }
  }
}
