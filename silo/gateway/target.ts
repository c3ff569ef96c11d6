/**
 * The grain a call names: `/grains/:type/:key/:method`, each segment percent-decoded (a key
 * may hold an encoded "/"). Hono's router matches the route and decodes the params; this
 * middleware refuses what Hono's lenient decoding lets through (broken percent-encoding,
 * invalid UTF-8) and names that are too long or ambiguous.
 */
import { createMiddleware } from 'hono/factory';
import type { GatewayEnv } from './env.js';
import { HttpError } from './http-errors.js';

export interface GrainTarget {
  type: string;
  key: string;
  method: string;
}

export const GRAIN_ROUTE = '/grains/:type/:key/:method';

const MAX_TYPE_LENGTH = 256;
const MAX_KEY_LENGTH = 1024;

export function grainTarget() {
  return createMiddleware<GatewayEnv>(async (c, next) => {
    checkPercentEncoding(c.req.url);
    const { type, key, method } = c.req.param() as Record<keyof GrainTarget, string>;
    if (type.length > MAX_TYPE_LENGTH || type.includes('/')) {
      throw new HttpError('invalid_request', `grain type must be at most ${MAX_TYPE_LENGTH} characters without "/"`);
    }
    if (key.length > MAX_KEY_LENGTH) throw new HttpError('invalid_request', `grain key is longer than ${MAX_KEY_LENGTH} characters`);
    c.set('target', { type, key, method });
    await next();
  });
}

/** Hono keeps undecodable escapes as they are; a grain name must not depend on that. */
function checkPercentEncoding(url: string): void {
  if (!url.includes('%')) return;
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  try {
    decodeURI(path);
  } catch {
    throw new HttpError('invalid_request', `the request path is not valid percent-encoded UTF-8 (${path.slice(path.indexOf('/grains/'), 300)}): encode each segment with encodeURIComponent`);
  }
}
