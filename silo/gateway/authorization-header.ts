/**
 * One `authorization` header per request, before any check reads it. Two headers reach a
 * web `Request` joined into one value ("Bearer a, Bearer b"), and which of them a check or
 * a proxy would look at differs, so the gateway refuses them: 400 `invalid_request`.
 * Leading and trailing whitespace is gone already (both Node's adapter and the fetch
 * standard trim header values).
 *
 * Under @hono/node-server the raw headers are counted, exactly. Elsewhere (Workers) only the
 * joined value is seen: a `Bearer` value with a comma is two headers, since a bearer token
 * cannot contain one (RFC 6750); other schemes may contain commas, so there the `authorize`
 * hook sees the value as it came.
 */
import { createMiddleware } from 'hono/factory';
import { HttpError } from './http-errors.js';

const BEARER = /^bearer\s/i;

export function singleAuthorization() {
  return createMiddleware(async (c, next) => {
    const value = c.req.header('authorization');
    if (value !== undefined) {
      const count = rawHeaderCount(c.env, 'authorization');
      if (count > 1 || (BEARER.test(value) && value.includes(','))) {
        throw new HttpError('invalid_request', 'more than one authorization header: send exactly one, e.g. authorization: Bearer <token>');
      }
    }
    await next();
  });
}

/** How often a header came, from Node's raw header list; 0 when there is none to read. */
function rawHeaderCount(env: unknown, name: string): number {
  const raw = (env as { incoming?: { rawHeaders?: unknown } } | undefined)?.incoming?.rawHeaders;
  if (!Array.isArray(raw)) return 0;
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (typeof raw[i] === 'string' && (raw[i] as string).toLowerCase() === name) n++;
  return n;
}
