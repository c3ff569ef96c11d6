/**
 * A Granary Worker: the HTTP gateway (the same Hono app as a silo's, same routes and error
 * codes) as the fetch handler, and the Durable Object class that hosts the grains.
 *
 *   import { granaryWorker } from 'granary/workers';
 *   import { sampleGrains } from './grains/index.js';
 *   export const { GrainObject, handler } = granaryWorker({ grains: sampleGrains });
 *   export default handler;
 */
import {
  REMINDER_LIST_MESSAGE, RequestContext, grainId, parseGrainId, type CallFilters, type GrainClass, type ReminderInfo,
} from '../../runtime/index.js';
import { createGatewayApp, type GatewayAppOptions, type GatewayBackend } from '../gateway/app.js';
import { errorBody, statusOf } from '../gateway/http-errors.js';
import { OTHER, SiloMetrics } from '../metrics.js';
import type { WorkerEnv } from './cloudflare.js';
import { grainObjectClass, type GrainObjectClass } from './grain-object.js';
import { providerGatewayStreams } from '../gateway/streams.js';
import { streamObjectClass, workerStreams, type StreamObjectClass } from './stream-object.js';
import { runtimeCache, type WorkersRuntime } from './runtime.js';

export interface GranaryWorkerOptions {
  /** The grain classes the Worker hosts (bundled with it). */
  grains: readonly GrainClass[];
  /** The Durable Object binding that hosts them (default `GRAINS`). */
  binding?: string;
  /**
   * Gateway options set in code (an `authorize` hook, a `clientKey`); the token, body limit
   * and rate limit come from the vars (`GRANARY_AUTH_TOKEN`, …) and win over these.
   */
  gateway?: GatewayAppOptions;
  /** Call filters (as `Silo.start({ filters })`): incoming on the grain objects, outgoing for calls grains make. */
  filters?: CallFilters;
}

/** The module worker's default export: the fetch handler. */
export interface GranaryFetchHandler {
  fetch(request: Request, env: WorkerEnv, ctx?: unknown): Promise<Response>;
}

export interface GranaryWorker {
  /** Export it under the `class_name` wrangler.toml gives (`GrainObject`). */
  GrainObject: GrainObjectClass;
  /** Export it under the `class_name` of the `STREAMS` binding (`StreamObject`): one object per stream. */
  StreamObject: StreamObjectClass;
  /** Export it as the module's default. */
  handler: GranaryFetchHandler;
}

interface Gateway {
  fetch(request: Request, env: WorkerEnv, ctx?: unknown): Response | Promise<Response>;
}

export function granaryWorker(options: GranaryWorkerOptions): GranaryWorker {
  if (!options || !Array.isArray(options.grains)) throw new TypeError('granaryWorker needs { grains: [GrainClass, ...] }');
  const runtimeFor = runtimeCache({ grains: options.grains, binding: options.binding ?? 'GRAINS', filters: options.filters });
  const gateways = new WeakMap<object, Gateway>();

  function gatewayFor(env: WorkerEnv): Gateway {
    let g = gateways.get(env);
    if (g === undefined) {
      try {
        const rt = runtimeFor(env);
        if (rt.config.unknownVars.length > 0) console.warn(`granary: unknown GRANARY_* vars (typos?): ${rt.config.unknownVars.join(', ')}`);
        g = createGatewayApp(workerBackend(rt, env), { ...options.gateway, ...rt.config.gateway });
      } catch (err) {
        // Misconfigured: every request says why (the vars are fixed for this deployment).
        g = { fetch: () => errorResponse(err) };
      }
      gateways.set(env, g);
    }
    return g;
  }

  return {
    GrainObject: grainObjectClass(runtimeFor),
    StreamObject: streamObjectClass(runtimeFor),
    handler: {
      async fetch(request, env, ctx) {
        return gatewayFor(env).fetch(request, env, ctx);
      },
    },
  };
}

/** The gateway's view of a Worker: calls go to grain objects; every hosted type is known here. */
function workerBackend(rt: WorkersRuntime, env: WorkerEnv): GatewayBackend {
  const metrics = new SiloMetrics();
  const streams = workerStreams(env, rt);
  return {
    invoke({ type, key, method, args, context, callId }) {
      const send = () => rt.router.invoke(grainId(type, key), `${type}/${key}`, method, args, { id: callId });
      return context === undefined ? send() : RequestContext.run(context, send);
    },
    methodStatus(type, method) {
      const t = rt.types.get(type);
      if (t === undefined) return 'no_such_type';
      return t.methods.has(method) ? 'callable' : 'not_callable';
    },
    types: () => rt.types.names().map((n) => rt.types.get(n)!),
    ready: () => true,
    // This isolate's gateway calls only: each isolate counts its own (docs/serverless.md).
    metrics: () => metrics.render({
      activationsByType: () => new Map(),
      activationsTotal: () => 0,
      deactivationsTotal: () => 0,
      ready: () => true,
    }),
    recordCall(type, method, outcome, seconds, namesKnown) {
      metrics.recordCall('gateway', namesKnown ? type : OTHER, namesKnown ? method : OTHER, outcome, seconds);
    },
    ref: (type, key) => rt.ref(type, key),
    // Stream objects cannot announce appends to the gateway: event streams poll them.
    ...(streams !== undefined ? { streams: providerGatewayStreams(streams, (t, k) => rt.ref(t, k), 250) } : {}),
    // A grain's reminders live in its object: ask it (`$reminder.list`, a system message).
    reminders: {
      list: (grain) => rt.router.invoke(parseGrainId(grain), grain, REMINDER_LIST_MESSAGE, []) as Promise<ReminderInfo[]>,
    },
  };
}

function errorResponse(err: unknown): Response {
  const body = errorBody(err);
  return new Response(JSON.stringify(body), { status: statusOf(body.error.code), headers: { 'content-type': 'application/json; charset=utf-8' } });
}
