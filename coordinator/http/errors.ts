// The one place HTTP errors are answered (issue 12): every failure, whether a
// route threw an HttpError, Fastify refused the body or the schema, the rate
// limit tripped or no route matched, becomes `{ "error": CODE, "message" }`
// with the status the registry (shared/error-codes.ts) gives the code.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, envelope, isErrorCode, TabmeshError, type ErrorCode } from '../../shared/errors.js';

/** What a route throws to answer with an error: its status comes from the registry. */
export class HttpError extends TabmeshError {
  get status(): number {
    return ERRORS[this.code].status;
  }
}

export function httpError(code: ErrorCode, message?: string): HttpError {
  return new HttpError(code, message ?? ERRORS[code].text);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The code a schema failure of this route answers with (default BAD_REQUEST). */
    badRequest?: ErrorCode;
    /** What to send, said when the body is missing or not an object. */
    bodyHint?: string;
  }
}

/** Fastify's own refusals, by its error code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
};

function classify(err: FastifyError & { error?: unknown }, req: FastifyRequest): { code: ErrorCode; message: string } {
  if (err instanceof HttpError) return { code: err.code, message: err.message };
  if (err.validation) {
    // "body/source must be string": the route's own code, the field named.
    const code = req.routeOptions.config?.badRequest ?? 'BAD_REQUEST';
    const first = err.validation[0];
    if (err.validationContext === 'body' && first?.instancePath === '' && first.keyword === 'type') {
      return { code, message: `the body must be a JSON object${req.routeOptions.config?.bodyHint ? `: ${req.routeOptions.config.bodyHint}` : ''}` };
    }
    return { code, message: err.message.replace(/^(body|querystring|params)\//, (_m, where: string) => `${where === 'querystring' ? 'query' : where} `) };
  }
  const fst = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (fst) return { code: fst, message: fst === 'BAD_REQUEST' ? `the body is not valid JSON: ${err.message}` : err.message };
  // @fastify/rate-limit throws what hardening.ts's errorResponseBuilder made.
  if (isErrorCode(err.error)) return { code: err.error, message: err.message };
  const status = err.statusCode ?? 500;
  if (status === 404) return { code: 'NOT_FOUND', message: err.message };
  if (status === 405) return { code: 'METHOD_NOT_ALLOWED', message: err.message };
  if (status >= 400 && status < 500) return { code: 'BAD_REQUEST', message: err.message };
  return { code: 'INTERNAL', message: ERRORS.INTERNAL.text };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const { code, message } = classify(err, req);
    const status = ERRORS[code].status;
    if (status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(status).send(envelope(code, message));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(envelope('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));
  // A body-less request that still says `content-type: application/json` (fetch
  // wrappers do this for DELETE) is simply a request without a body.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    return json(req, body as string, done);
  });
}
