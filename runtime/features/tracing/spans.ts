/**
 * The portable part of tracing (no `node:` import, so the gateway app, which Workers serve
 * too, can use it): whether a tracer provider is registered, the tracer, span attributes,
 * failures, and running work inside a span.
 */
import { SpanStatusCode, context, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';

/** The instrumentation scope name of every span Granary makes. */
export const TRACER_NAME = 'granary';

/**
 * Where `@opentelemetry/api` (major version 1) keeps its globals: `trace` is set there by
 * `trace.setGlobalTracerProvider` (an SDK's `register()`) and removed by `trace.disable()`.
 * Read directly because `trace.getTracerProvider()` checks API versions on every call
 * (hundreds of nanoseconds: more than a local grain call can spare).
 */
const API_GLOBALS = Symbol.for('opentelemetry.js.api.1');

/** The API's globals object, once it exists (the API creates it once and only adds and deletes keys). */
let apiGlobals: { trace?: unknown } | undefined;

/** Whether a tracer provider is registered (`trace.setGlobalTracerProvider`, or an SDK's `register()`). */
export function tracingEnabled(): boolean {
  const g = apiGlobals ?? (apiGlobals = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[API_GLOBALS]);
  return g !== undefined && g.trace !== undefined;
}

export function granaryTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** The semantic attributes of a grain call (OpenTelemetry's RPC conventions). */
export function callAttributes(type: string, method: string, key: string, siloId: string | undefined): Attributes {
  const a: Attributes = { 'rpc.system': 'granary', 'rpc.service': type, 'rpc.method': method, 'granary.grain.key': key };
  if (siloId !== undefined) a['granary.silo.id'] = siloId;
  return a;
}

/** The trace an error was first recorded in (the silo's error log reads it after the span ended). */
const ERROR_TRACE = Symbol.for('granary.error.traceId');

/** The trace id of the span that first recorded `err` as its failure, if any. */
export function errorTraceId(err: unknown): string | undefined {
  const id = err !== null && typeof err === 'object' ? (err as Record<symbol, unknown>)[ERROR_TRACE] : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** Marks `span` failed with `err` (its code, name and message). */
export function recordFailure(span: Span, err: unknown): void {
  if (err !== null && typeof err === 'object' && Object.isExtensible(err) && !(ERROR_TRACE in err)) {
    Object.defineProperty(err, ERROR_TRACE, { value: span.spanContext().traceId, enumerable: false, configurable: true });
  }
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  if (typeof e?.code === 'string') span.setAttribute('granary.error.code', e.code);
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof e?.message === 'string' ? e.message : String(err) });
}

/** Runs `fn` in `span`'s context, ending the span with `fn`'s outcome. */
export function runInSpan<T>(span: Span, parent: Context, fn: () => Promise<T>): Promise<T> {
  return context.with(trace.setSpan(parent, span), fn).then(
    (value) => { span.end(); return value; },
    (err: unknown) => { recordFailure(span, err); span.end(); throw err; },
  );
}

