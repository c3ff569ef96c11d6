/** Tracing (runtime/features/tracing): call filters and span helpers over `@opentelemetry/api`. */
export {
  TRACE_EXTENSION, activeTraceHeaders, carriedSpanContext, clientSpan, currentTraceId, tracingFilters, withSpan,
} from './tracing.js';
export type { TracingFilterOptions } from './tracing.js';
export { TRACER_NAME, callAttributes, errorTraceId, granaryTracer, recordFailure, runInSpan, tracingEnabled } from './spans.js';
export { carrierOf, formatTraceparent, parseTraceparent, readCarrier } from './w3c.js';
export type { TraceCarrier } from './w3c.js';
