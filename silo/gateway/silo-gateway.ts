/**
 * The gateway of a Node silo: the Hono app over the silo's router, served by Node's HTTP
 * server. Calls enter the router as if a client outside any grain made them, with the
 * request context the headers carry.
 */
import { RequestContext, grainId, reminderInfo } from '../../runtime/index.js';
import { newScope, scopeStorage } from '../../runtime/context.js';
import { TRACE_EXTENSION, clientSpan, tracingEnabled, type TraceCarrier } from '../../runtime/features/tracing/index.js';
import { OTHER } from '../metrics.js';
import type { Silo } from '../silo.js';
import { createGatewayApp, type GatewayAppOptions, type GatewayBackend } from './app.js';
import { nodeClientAddress } from './node-client-address.js';
import { listenNode, type NodeGateway } from './node-server.js';
import { providerGatewayStreams } from './streams.js';

export interface GatewayOptions extends GatewayAppOptions {
  /** Port to listen on (default 8080; 0 picks a free one, see `silo.gateway.port`). */
  port?: number;
  /** Address to bind (default 0.0.0.0). */
  host?: string;
  /** On stop, how long requests in flight may take before their connections are closed (default 10 s). */
  closeGraceMs?: number;
  /**
   * Peers whose `x-forwarded-for` is believed for the client's address (addresses, CIDR
   * ranges, `loopback`, `linklocal`, `uniquelocal`); default none: the socket's peer.
   */
  trustedProxies?: readonly string[];
  /** Time to receive a whole request, headers and body (default 30 s); past it → 408 `request_timeout`, connection closed. */
  requestTimeoutMs?: number;
  /** Time to receive a request's headers (default 10 s, at most `requestTimeoutMs`). */
  headersTimeoutMs?: number;
  /** Open connections at most (default 1000); past it new connections are closed at once. */
  maxConnections?: number;
}

export function siloBackend(silo: Silo): GatewayBackend {
  return {
    invoke({ type, key, method, args, context, deadline, callId, trace, onTrace }) {
      const send = () => silo.router.invoke(grainId(type, key), `${type}/${key}`, method, args, { deadline, id: callId });
      if (trace === undefined && !tracingEnabled()) return context === undefined ? send() : RequestContext.run(context, send);
      // A scope of the call's own: it carries the trace on (`trace` call extension), under a CLIENT span when tracing.
      const scope = newScope({ ctx: context, ext: trace === undefined ? undefined : { [TRACE_EXTENSION]: trace } });
      if (!tracingEnabled()) return scopeStorage.run(scope, send);
      return scopeStorage.run(scope, () => clientSpan(type, method, key, silo.id, () => {
        const carried = scope.ext?.[TRACE_EXTENSION] as TraceCarrier | undefined;
        if (carried !== undefined) onTrace?.(carried);
        return send();
      }));
    },
    methodStatus(type, method) {
      const t = silo.types.get(type);
      if (t === undefined) {
        // Hosted elsewhere: the silo that hosts it checks the method.
        return silo.connection.membership.live().some((s) => s.types.includes(type)) ? 'unknown' : 'no_such_type';
      }
      return t.methods.has(method) ? 'callable' : 'not_callable';
    },
    types: () => silo.types.names().map((n) => silo.types.get(n)!),
    ready: () => silo.ready,
    admin: () => silo.admin,
    dashboard: () => silo.dashboard,
    metrics: () => silo.renderMetrics(),
    recordCall(type, method, outcome, seconds, namesKnown, key) {
      silo.metrics.recordCall('gateway', namesKnown ? type : OTHER, namesKnown ? method : OTHER, outcome, seconds);
      if (namesKnown && key !== undefined) silo.metrics.recordGrainLatency(type, key, method, seconds);
    },
    ref: (type, key) => silo.getGrain(type, key),
    reminders: silo.storage.reminders === undefined ? undefined : {
      list: async (grain) => (await silo.storage.reminders!.list(grain)).map(reminderInfo),
    },
    streams: silo.streamProvider === undefined ? undefined : providerGatewayStreams(silo.streamProvider, (t, k) => silo.getGrain(t, k)),
  };
}


/** Starts a silo's gateway; called by the silo once it has joined its cluster. */
export async function startSiloGateway(silo: Silo, options: GatewayOptions): Promise<NodeGateway> {
  const logger = silo.logger.child({ component: 'gateway' });
  const clientAddress = nodeClientAddress({ trustedProxies: options.trustedProxies ?? [] });
  const app = createGatewayApp(siloBackend(silo), { clientAddress, logger, ...options });
  return listenNode(app, {
    port: options.port,
    host: options.host,
    closeGraceMs: options.closeGraceMs,
    requestTimeoutMs: options.requestTimeoutMs,
    headersTimeoutMs: options.headersTimeoutMs,
    maxConnections: options.maxConnections,
    logger,
  });
}
