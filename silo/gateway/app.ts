/**
 * The HTTP gateway as a Hono app: grain calls over HTTP, health, readiness and metrics.
 *
 * The app knows nothing of Node or of the silo: it takes a `GatewayBackend` (how to invoke
 * a grain, which methods are callable, readiness, metrics) and options, and only uses web
 * standards, so a Worker's fetch handler serves the same app. The Node server around it
 * lives in `node-server.ts`.
 *
 * A grain call passes, in order: `grainTarget` (the route's params, 400 when malformed),
 * one `authorization` header (400), the bearer token and `authorize` hook (401/403), the
 * rate limit (429, per hook subject, else per client address), `callHeaders`
 * (415, deadline, request context, 404 for methods that cannot be called), the body limit
 * (413), then the handler, which reads `{"args": [...]}` and invokes the grain.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { encode } from '../../runtime/codec.js';
import { CallDeadline } from '../../runtime/pending-call.js';
import { GRANARY_JSON, TIMEOUT_HEADER } from '../../runtime/protocol.js';
import { gatewayAuth } from './auth.js';
import type { GatewayAppOptions, GatewayBackend } from './backend.js';
import { limitBody, readArgs } from './call-body.js';
import { defaultClientAddress, subjectOrAddress } from './client-key.js';
import { callHeaders } from './call-request.js';
import { withDeadline } from './deadline.js';
import type { GatewayEnv } from './env.js';
import { HttpError, errorResponse } from './http-errors.js';
import { openApiDocument } from './openapi.js';
import { toPlainJson } from './plain-json.js';
import { serveTraced } from './trace-http.js';
import { mountAdminRoutes } from './admin-routes.js';
import { mountDashboard } from './dashboard.js';
import { rateLimit } from './rate-limit.js';
import { reminderRoutes } from './reminders.js';
import { streamRoutes } from './streams.js';
import { GRAIN_ROUTE, grainTarget } from './target.js';
import { consoleLogger, warnOnce } from './warn-once.js';

export { GRANARY_JSON, TIMEOUT_HEADER };
export type { GatewayAppOptions, GatewayBackend, GatewayCall, GatewayLogger, MethodStatus } from './backend.js';

const DEFAULT_MAX_BODY = 1 << 20;
const DEFAULT_MAX_TIMEOUT = 5 * 60_000;
const PROBES = ['/healthz', '/readyz', '/metrics'];

export function createGatewayApp(backend: GatewayBackend, options: GatewayAppOptions = {}): Hono<GatewayEnv> {
  const guards = gatewayAuth(options);
  const limits = options.rateLimit
    ? [rateLimit({ ...options.rateLimit, clientKey: options.clientKey ?? subjectOrAddress(options.clientAddress ?? defaultClientAddress) })]
    : [];
  const warn = warnOnce(options.logger ?? consoleLogger);
  const app = new Hono<GatewayEnv>();

  // bearer-auth throws HTTPException carrying the gateway's own error response.
  app.onError((err) => (err instanceof HTTPException && err.res ? err.getResponse() : errorResponse(err)));
  app.notFound((c) => errorResponse(new HttpError('not_found', `no route ${c.req.method} ${c.req.path}; grain calls are POST /grains/:type/:key/:method`)));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) =>
    backend.ready() ? c.json({ status: 'ready' }) : errorResponse(new HttpError('not_ready', 'the silo is starting or draining; send calls to another silo')));
  for (const guard of guards) app.get('/metrics', guard);
  app.get('/metrics', (c) => {
    if (!backend.metrics) throw new HttpError('not_found', 'metrics are not enabled on this gateway');
    return c.body(backend.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  for (const guard of guards) app.get('/openapi.json', guard);
  app.get('/openapi.json', (c) => {
    if (!backend.types) throw new HttpError('not_found', 'this gateway does not describe its grains');
    return c.json(openApiDocument(backend.types()));
  });
  for (const path of PROBES) {
    app.all(path, () => { throw new HttpError('method_not_allowed', `${path} accepts GET or HEAD`, { allow: 'GET, HEAD' }); });
  }

  mountAdminRoutes(app, backend.admin, guards);
  mountDashboard(app, backend.dashboard, guards, options.token);

  app.use(GRAIN_ROUTE, grainTarget());
  const beforeCall: MiddlewareHandler<GatewayEnv>[] = [
    ...guards,
    ...limits,
    callHeaders(backend, { maxTimeoutMs: options.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT, warn }),
    limitBody(options.maxBodyBytes ?? DEFAULT_MAX_BODY),
  ];
  for (const step of beforeCall) app.post(GRAIN_ROUTE, step);
  app.post(GRAIN_ROUTE, async (c) => {
    const target = c.var.target;
    const call = c.var.call;
    const args = await readArgs(c.req, call.rich, backend.ref);
    const started = performance.now();
    let outcome = 'ok';
    try {
      const deadline = call.timeoutMs === undefined ? undefined : new CallDeadline();
      const result = await serveTraced(
        c.req.raw.headers,
        (carrier) => {
          c.header('traceparent', carrier.traceparent);
          if (carrier.tracestate !== undefined) c.header('tracestate', carrier.tracestate);
        },
        (trace, onTrace) => withDeadline(backend.invoke({ ...target, args, context: call.context, deadline, callId: call.callId, trace, onTrace }), call.timeoutMs, target, deadline),
      );
      return resultResponse(c, result, call.rich);
    } catch (err) {
      outcome = (err as { code?: unknown } | null)?.code as string || 'grain_error';
      throw err;
    } finally {
      const namesKnown = call.methodStatus === 'callable' || outcome === 'ok';
      backend.recordCall?.(target.type, target.method, outcome, (performance.now() - started) / 1000, namesKnown, target.key);
    }
  });
  app.all(GRAIN_ROUTE, () => {
    throw new HttpError('method_not_allowed', 'grain calls are POST /grains/:type/:key/:method with {"args": [...]}', { allow: 'POST' });
  });
  // Streams (silo/gateway/streams.ts): behind the same token, hook and rate limit.
  streamRoutes(app, backend.streams, [...guards, ...limits], limitBody(options.maxBodyBytes ?? DEFAULT_MAX_BODY), backend.ref);
  // Operations (silo/gateway/reminders.ts): behind the token and hook.
  reminderRoutes(app, backend.reminders, guards);

  return app;
}

function resultResponse(c: Context, result: unknown, rich: boolean): Response {
  if (rich) return c.body(`{"result":${encode(result)}}`, 200, { 'content-type': `${GRANARY_JSON}; charset=utf-8` });
  return c.body(JSON.stringify({ result: toPlainJson(result) }), 200, { 'content-type': 'application/json; charset=utf-8' });
}
