/**
 * Who may call: one `authorization` header (authorization-header.ts), the bearer token
 * (`hono/bearer-auth`, compared in constant time), then the `authorize` hook. Refusals are
 * the gateway's own error bodies: 400 `invalid_request` for two headers, 401 `unauthorized`
 * with `www-authenticate` (also for a header that is not `Bearer <token>`), 403 `forbidden`.
 *
 * The hook may name who is calling: a non-empty string admits the request and becomes its
 * `subject`, which the rate limit counts against (a single shared token names nobody).
 */
import type { MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { createMiddleware } from 'hono/factory';
import { singleAuthorization } from './authorization-header.js';
import { HttpError, errorResponse } from './http-errors.js';

/** RFC 6750 b64token: what hono/bearer-auth accepts in a header. */
export const TOKEN_CHARS = /^[A-Za-z0-9._~+/-]+=*$/;
const REALM = 'Bearer realm="granary"';

/** What the `authorize` hook answers: true or a subject (a non-empty string) admits; false or "" is 403. */
export type AuthorizeResult = boolean | string;

export interface AuthOptions {
  token?: string;
  authorize?(req: Request): AuthorizeResult | Promise<AuthorizeResult>;
}

/** The middleware that guards a route; none when neither a token nor a hook is set. */
export function gatewayAuth(options: AuthOptions): MiddlewareHandler[] {
  const guards: MiddlewareHandler[] = [];
  if (options.token !== undefined) guards.push(bearerToken(options.token));
  const { authorize } = options;
  if (authorize !== undefined) {
    guards.push(createMiddleware(async (c, next) => {
      const answer = await authorize(c.req.raw);
      if (answer !== true && (typeof answer !== 'string' || answer === '')) {
        throw new HttpError('forbidden', 'the gateway\'s authorize hook refused this request');
      }
      if (typeof answer === 'string') c.set('subject', answer);
      await next();
    }));
  }
  return guards.length === 0 ? guards : [singleAuthorization(), ...guards];
}

function bearerToken(token: string): MiddlewareHandler {
  if (!TOKEN_CHARS.test(token)) {
    throw new TypeError('gateway token: use only letters, digits and -._~+/ (optionally ending in =), as RFC 6750 bearer tokens do; e.g. a base64url or hex string');
  }
  const refuse = (message: string) => () => errorResponse(new HttpError('unauthorized', message));
  return bearerAuth({
    token,
    noAuthenticationHeader: { message: refuse('missing bearer token: send authorization: Bearer <token>'), wwwAuthenticateHeader: REALM },
    invalidAuthenticationHeader: { message: refuse('the authorization header is not "Bearer <token>"'), wwwAuthenticateHeader: `${REALM}, error="invalid_request"` },
    invalidToken: { message: refuse('wrong bearer token'), wwwAuthenticateHeader: `${REALM}, error="invalid_token"` },
  });
}
