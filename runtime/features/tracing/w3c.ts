/**
 * W3C Trace Context (`traceparent`, `tracestate`) read and written by hand, so that context
 * crosses processes whatever propagator the user registered (or none): the header format
 * is fixed by the W3C recommendation, version 00.
 */
import { TraceFlags, createTraceState, isSpanContextValid, type SpanContext } from '@opentelemetry/api';

/** A trace context as it travels: in a call message (`CallMessage.ext.trace`) and in HTTP headers. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** The span context a `traceparent` (and `tracestate`) names, marked remote; undefined when malformed. */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof traceparent !== 'string' || traceparent.length > 512) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (m === null || m[1] === 'ff' || (m[1] === '00' && traceparent.trim().length !== 55)) return undefined;
  const ctx: SpanContext = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & TraceFlags.SAMPLED, isRemote: true };
  if (!isSpanContextValid(ctx)) return undefined;
  if (typeof tracestate === 'string' && tracestate !== '' && tracestate.length <= 512) ctx.traceState = createTraceState(tracestate);
  return ctx;
}

export function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-0${(ctx.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

/** What a call message or response header carries for `ctx`. */
export function carrierOf(ctx: SpanContext): TraceCarrier {
  const tracestate = ctx.traceState?.serialize();
  return tracestate ? { traceparent: formatTraceparent(ctx), tracestate } : { traceparent: formatTraceparent(ctx) };
}

/** A carrier that arrived over the wire, checked (anything else is ignored, never trusted). */
export function readCarrier(value: unknown): SpanContext | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Partial<TraceCarrier>;
  return parseTraceparent(v.traceparent, v.tracestate);
}
