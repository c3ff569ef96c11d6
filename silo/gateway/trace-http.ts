/**
 * W3C trace context on the gateway: a request's `traceparent`/`tracestate` is continued (the
 * gateway's CLIENT span for the grain call is its child, or, with no tracer provider here, the
 * call carries it on as it came), and the response's `traceparent` names the span the call
 * ran under.
 */
import { tracingEnabled } from '../../runtime/features/tracing/spans.js';
import { carrierOf, parseTraceparent, type TraceCarrier } from '../../runtime/features/tracing/w3c.js';

/** The trace context a request carries, when its `traceparent` is well formed. */
export function requestTrace(headers: Headers): TraceCarrier | undefined {
  const traceparent = headers.get('traceparent');
  if (traceparent === null) return undefined;
  const tracestate = headers.get('tracestate') ?? undefined;
  const ctx = parseTraceparent(traceparent, tracestate);
  return ctx === undefined ? undefined : carrierOf(ctx);
}

/**
 * Runs a grain call that came over HTTP, continuing the request's trace. With a tracer
 * provider, `run` makes the call's CLIENT span, a child of the incoming context (no span of
 * its own for the HTTP request: one span per hop keeps tracing's cost down), and `respond`
 * gets that span's context for the response; without one, `run` gets the incoming context
 * unchanged, and so does the response.
 */
export function serveTraced<T>(
  headers: Headers,
  respond: (carrier: TraceCarrier) => void,
  run: (incoming: TraceCarrier | undefined, respond: (carrier: TraceCarrier) => void) => Promise<T>,
): Promise<T> {
  const incoming = requestTrace(headers);
  if (!tracingEnabled()) {
    if (incoming !== undefined) respond(incoming);
    return run(incoming, () => undefined);
  }
  return run(incoming, respond);
}
