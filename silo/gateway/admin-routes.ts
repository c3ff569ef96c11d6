/**
 * The management routes (API.md "Observability and management"), behind the gateway's token:
 *   GET  /admin/silos                          → {"silos": [{"id", "status", "activations", …}]}
 *   GET  /admin/grains?type=T&limit=N&cursor=C → {"grains": [{"type", "key", "silo"}], "next"?}
 *   GET  /admin/grains/:type/:key              → {"type", "key", "active", "silo"?}
 *   POST /admin/grains/:type/:key/deactivate   → {"type", "key", "active", "silo"?, "deactivated"}
 * The host gives the answers (`GatewayBackend.admin`: a silo asks the others over the cluster);
 * a host without one answers 404 saying so.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import type { Admin } from '../admin.js';
import type { GatewayEnv } from './env.js';
import { HttpError } from './http-errors.js';

export const ADMIN_ROUTES = ['/admin/silos', '/admin/grains', '/admin/grains/:type/:key', '/admin/grains/:type/:key/deactivate'];

export function mountAdminRoutes(app: Hono<GatewayEnv>, admin: (() => Admin | undefined) | undefined, guards: readonly MiddlewareHandler[]): void {
  const need = (): Admin => {
    const a = admin?.();
    if (a === undefined) throw new HttpError('not_found', 'this gateway has no management API (see docs/observability.md for what each host offers)');
    return a;
  };
  for (const guard of guards) app.use('/admin/*', guard);
  app.get('/admin/silos', async (c) => c.json({ silos: await need().silos() }));
  app.get('/admin/grains', async (c) => {
    const type = c.req.query('type');
    const rawLimit = c.req.query('limit');
    const limit = rawLimit === undefined ? undefined : /^\d{1,7}$/.test(rawLimit) ? Number(rawLimit) : NaN;
    return c.json(await need().grains({ type: type === '' ? undefined : type, limit, cursor: c.req.query('cursor') || undefined }));
  });
  app.get('/admin/grains/:type/:key', async (c) => c.json(await need().grain(c.req.param('type'), c.req.param('key'))));
  app.post('/admin/grains/:type/:key/deactivate', async (c) => c.json(await need().deactivate(c.req.param('type'), c.req.param('key'))));
}
