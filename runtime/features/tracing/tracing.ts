/**
 * Tracing with `@opentelemetry/api` only: the SDK (exporters, processors, sampling) is the
 * user's choice. Built on the call-filter seam: an outgoing filter makes the CLIENT span where
 * a call is made, an incoming filter the SERVER span where it runs, both named
 * `<Type>/<method>`. The trace context crosses processes in the call message (the `trace`
 * call extension, W3C `traceparent`/`tracestate` strings) and in HTTP headers (the gateway).
 *
 * With no tracer provider registered, each filter costs one check (`tracingEnabled()`) and
 * goes straight on: no span, no context, no allocation.
 */
import { ROOT_CONTEXT, SpanKind, context, trace, type Attributes, type Context, type SpanContext } from '@opentelemetry/api';
import { currentScope, type CallScope } from '../../context.js';
import { registerCallExtension, type CallExtensions } from '../../features.js';
import type { CallFilter, CallFilters } from '../../filters.js';
import { callAttributes, granaryTracer, runInSpan, tracingEnabled } from './spans.js';
import { carrierOf, readCarrier, type TraceCarrier } from './w3c.js';

/** The call extension's key: `CallScope.ext.trace` / `CallMessage.ext.trace` holds a `TraceCarrier`. */
export const TRACE_EXTENSION = 'trace';

// Carried down with every call; nothing comes back in replies.
registerCallExtension({ key: TRACE_EXTENSION });

/** The span context a scope's call carries (what the caller's CLIENT span sent), if any. */
export function carriedSpanContext(scope: CallScope | undefined): SpanContext | undefined {
  const carried = scope?.ext?.[TRACE_EXTENSION];
  return carried === undefined ? undefined : readCarrier(carried);
}

/** The context to start a span in: the active span's, else what the current call carries. */
function parentContext(scope: CallScope | undefined): Context {
  const active = context.active();
  if (trace.getSpan(active) !== undefined) return active;
  const carried = carriedSpanContext(scope);
  return carried === undefined ? active : trace.setSpanContext(ROOT_CONTEXT, carried);
}

/**
 * Sets the trace carrier on `scope` (a scope of the call's own) without touching its caller's
 * extensions object. Features merge reply info into `scope.ext` in place; the values they
 * changed in the copy are written back to the caller's object, as if no copy had been made.
 */
function carryOn(scope: CallScope, carrier: TraceCarrier): () => void {
  const shared = scope.ext;
  const own: CallExtensions = { ...shared, [TRACE_EXTENSION]: carrier };
  scope.ext = own;
  return () => {
    if (shared === undefined) return;
    for (const key in own) if (key !== TRACE_EXTENSION && key in shared && shared[key] !== own[key]) shared[key] = own[key];
  };
}

/**
 * Runs `send` inside a CLIENT span. With `carry` (the default), the current scope must be the
 * call's own, and the call message carries the span's context; without, `send` reads it from
 * the active context (an HTTP client puts it in `traceparent`).
 */
export function clientSpan<T>(type: string, method: string, key: string, siloId: string | undefined, send: () => Promise<T>, carry = true): Promise<T> {
  const scope = currentScope();
  const parent = parentContext(scope);
  const span = granaryTracer().startSpan(`${type}/${method}`, { kind: SpanKind.CLIENT, attributes: callAttributes(type, method, key, siloId) }, parent);
  const writeBack = scope === undefined || !carry ? undefined : carryOn(scope, carrierOf(span.spanContext()));
  const sent = runInSpan(span, parent, send);
  return writeBack === undefined ? sent : sent.finally(writeBack);
}

export interface TracingFilterOptions {
  /** Recorded as `granary.silo.id` on every span (a client has none). */
  siloId?: string;
}

/**
 * The tracing call filters: put `incoming` first (outermost) on a host and `outgoing` first on
 * a caller. `Silo.start` and `GrainClient.connect` add them unless `tracing: false`.
 */
export function tracingFilters(options: TracingFilterOptions = {}): Required<CallFilters> {
  const siloId = options.siloId;
  const outgoing: CallFilter = (call, next) => {
    if (!tracingEnabled()) return next();
    return clientSpan(call.grain.type, call.method, call.grain.key, siloId, next);
  };
  const incoming: CallFilter = (call, next) => {
    if (!tracingEnabled()) return next();
    const scope = currentScope();
    const carried = carriedSpanContext(scope);
    const parent = carried === undefined ? context.active() : trace.setSpanContext(ROOT_CONTEXT, carried);
    const span = granaryTracer().startSpan(`${call.grain.type}/${call.method}`, {
      kind: SpanKind.SERVER, attributes: callAttributes(call.grain.type, call.method, call.grain.key, siloId),
    }, parent);
    return runInSpan(span, parent, next);
  };
  // Idle with no tracer provider: the call paths then skip the filters altogether.
  outgoing.active = tracingEnabled;
  incoming.active = tracingEnabled;
  return { incoming: [incoming], outgoing: [outgoing] };
}

/**
 * Runs `fn` in an INTERNAL span named `name` when tracing is on (storage operations,
 * activation, transaction phases); otherwise just runs it.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn();
  const parent = parentContext(currentScope());
  const span = granaryTracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent);
  return runInSpan(span, parent, fn);
}

/** W3C headers for the active span (`traceparent`, `tracestate`), when there is one. */
export function activeTraceHeaders(): TraceCarrier | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const ctx = span.spanContext();
  return ctx.traceId === '00000000000000000000000000000000' ? undefined : carrierOf(ctx);
}

/**
 * The trace id of the current work, for log lines: the active span's, else the one the
 * current call carries (a traceparent that arrived with no SDK registered here).
 */
export function currentTraceId(): string | undefined {
  const span = trace.getActiveSpan();
  if (span !== undefined) {
    const id = span.spanContext().traceId;
    if (id !== '00000000000000000000000000000000') return id;
  }
  return carriedSpanContext(currentScope())?.traceId;
}
