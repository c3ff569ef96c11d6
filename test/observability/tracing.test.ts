/**
 * Tracing in one process with the OpenTelemetry SDK's in-memory exporter: CLIENT and SERVER
 * spans per call, their attributes and parent links, storage spans, error status, the trace
 * context through the HTTP gateway (traceparent in and out), and nothing at all with no SDK.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { GrainClient, Silo, memoryCluster } from '../../index.js';
import { tracingEnabled } from '../../runtime/features/tracing/index.js';
import { Account } from '../../grains/index.js';
import { Back, Front } from './grains.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

function register(): void {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
}
function unregister(): void {
  trace.disable();
  context.disable();
}

const named = (spans: ReadableSpan[], name: string, kind: SpanKind) => spans.filter((s) => s.name === name && s.kind === kind);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('tracing with an SDK registered', () => {
  const cluster = memoryCluster();
  let front: Silo;
  let back: Silo;
  let client: GrainClient;
  beforeAll(async () => {
    register();
    // Front and Back on different silos: every grain-to-grain call crosses the (memory) transport.
    front = await Silo.start({ grains: [Front], cluster, gateway: { port: 0, host: '127.0.0.1' } });
    back = await Silo.start({ grains: [Back], cluster });
    client = await GrainClient.connect({ cluster });
  });
  afterAll(async () => {
    await client?.close();
    await front?.stop();
    await back?.stop();
    unregister();
  });
  afterEach(() => exporter.reset());

  it('a call makes CLIENT and SERVER spans named <Type>/<method>, linked into one trace', async () => {
    expect(tracingEnabled()).toBe(true);
    expect(await client.getGrain<Front>('Front', 'f1').relay('b1')).toBe(1);
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const [clientFront] = named(spans, 'Front/relay', SpanKind.CLIENT);
    const [serverFront] = named(spans, 'Front/relay', SpanKind.SERVER);
    const [clientBack] = named(spans, 'Back/work', SpanKind.CLIENT);
    const [serverBack] = named(spans, 'Back/work', SpanKind.SERVER);
    for (const s of [clientFront, serverFront, clientBack, serverBack]) expect(s).toBeDefined();
    const traceId = clientFront!.spanContext().traceId;
    for (const s of [serverFront!, clientBack!, serverBack!]) expect(s.spanContext().traceId).toBe(traceId);
    expect(parentOf(serverFront!)).toBe(clientFront!.spanContext().spanId);
    expect(parentOf(clientBack!)).toBe(serverFront!.spanContext().spanId);
    expect(parentOf(serverBack!)).toBe(clientBack!.spanContext().spanId);
    expect(serverBack!.attributes).toMatchObject({
      'rpc.system': 'granary', 'rpc.service': 'Back', 'rpc.method': 'work', 'granary.grain.key': 'b1', 'granary.silo.id': back.id,
    });
    expect(clientBack!.attributes['granary.silo.id']).toBe(front.id);
    expect(serverFront!.status.code).not.toBe(SpanStatusCode.ERROR);
    // The state write inside Back/work is a span of its own, under the SERVER span.
    const write = spans.find((s) => s.name === 'storage write' && s.spanContext().traceId === traceId);
    expect(write).toBeDefined();
    expect(parentOf(write!)).toBe(serverBack!.spanContext().spanId);
    expect(write!.attributes).toMatchObject({ 'db.operation': 'write', 'granary.grain.type': 'Back', 'granary.grain.key': 'b1' });
  });

  it('an activation is a span of its own, its state read under it', async () => {
    await client.getGrain<Back>('Back', 'fresh').work();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const activation = spans.find((s) => s.name === 'activate Back' && s.attributes['granary.grain.key'] === 'fresh');
    expect(activation).toBeDefined();
    expect(activation!.attributes['granary.silo.id']).toBe(back.id);
    const read = spans.find((s) => s.name === 'storage read' && s.attributes['granary.grain.key'] === 'fresh');
    expect(parentOf(read!)).toBe(activation!.spanContext().spanId);
  });

  it('a transaction\'s commit (prepare and commit) and abort are spans', async () => {
    const silo = await Silo.start({ grains: [Account], cluster });
    try {
      const a = client.getGrain(Account, 'a');
      const b = client.getGrain(Account, 'b');
      await client.transaction(async () => { await a.deposit(10); await b.deposit(5); });
      await expect(client.transaction(async () => { await a.deposit(1); throw new Error('changed my mind'); })).rejects.toMatchObject({ code: 'transaction_aborted' });
      await provider.forceFlush();
      const spans = exporter.getFinishedSpans();
      const commit = spans.find((s) => s.name === 'transaction commit');
      expect(commit).toBeDefined();
      expect(commit!.attributes['granary.transaction.participants']).toBe(2);
      expect(spans.find((s) => s.name === 'transaction abort')).toBeDefined();
    } finally {
      await silo.stop();
    }
  });

  it('a failed call marks its spans with the error status and code', async () => {
    await expect(client.getGrain<Front>('Front', 'f2').relayFail('b2', 'boom')).rejects.toMatchObject({ message: 'boom' });
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const [serverBack] = named(spans, 'Back/fail', SpanKind.SERVER);
    const [clientFront] = named(spans, 'Front/relayFail', SpanKind.CLIENT);
    expect(serverBack!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(serverBack!.events.some((e) => e.name === 'exception')).toBe(true);
    expect(clientFront!.status.code).toBe(SpanStatusCode.ERROR);
    expect(clientFront!.attributes['granary.error.code']).toBe('grain_error');
  });

  it('the gateway continues an incoming traceparent and answers with its own', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${front.gateway!.url}/grains/Front/f3/relay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=1' },
      body: JSON.stringify({ args: ['b3'] }),
    });
    expect(res.status).toBe(200);
    const out = res.headers.get('traceparent');
    expect(out).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(res.headers.get('tracestate')).toBe('vendor=1');
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    // The gateway's CLIENT span for the grain call continues the caller's; the response names it.
    const [gatewayClient] = named(spans, 'Front/relay', SpanKind.CLIENT);
    expect(gatewayClient!.attributes['granary.silo.id']).toBe(front.id);
    expect(parentOf(gatewayClient!)).toBe('00f067aa0ba902b7');
    expect(out!.split('-')[2]).toBe(gatewayClient!.spanContext().spanId);
    const [serverFront] = named(spans, 'Front/relay', SpanKind.SERVER);
    const [serverBack] = named(spans, 'Back/work', SpanKind.SERVER);
    expect(serverFront).toBeDefined();
    expect(serverBack).toBeDefined();
  });

  it('GrainClient.http sends the active trace as traceparent', async () => {
    const http = GrainClient.http(front.gateway!.url);
    const root = trace.getTracer('test').startSpan('root');
    await context.with(trace.setSpan(context.active(), root), () => http.getGrain<Front>('Front', 'f4').relay('b4'));
    root.end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === root.spanContext().traceId);
    // The HTTP client's CLIENT span (no silo), then the gateway's (on the silo), its child through traceparent.
    const clients = named(spans, 'Front/relay', SpanKind.CLIENT);
    expect(clients.map((s) => s.attributes['granary.silo.id'] !== undefined).sort()).toEqual([false, true]);
    const viaGateway = clients.find((s) => s.attributes['granary.silo.id'] !== undefined)!;
    expect(parentOf(viaGateway)).toBe(clients.find((s) => s.attributes['granary.silo.id'] === undefined)!.spanContext().spanId);
    expect(named(spans, 'Front/relay', SpanKind.SERVER)).toHaveLength(1);
    expect(named(spans, 'Back/work', SpanKind.SERVER)).toHaveLength(1);
    await http.close();
  });
});

describe('tracing with no SDK registered', () => {
  it('makes no spans and passes an incoming traceparent on unchanged', async () => {
    expect(tracingEnabled()).toBe(false);
    const silo = await Silo.start({ grains: [Front, Back], gateway: { port: 0, host: '127.0.0.1' } });
    try {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const res = await fetch(`${silo.gateway!.url}/grains/Front/n1/relay`, {
        method: 'POST', headers: { 'content-type': 'application/json', traceparent }, body: JSON.stringify({ args: ['n1'] }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('traceparent')).toBe(traceparent);
      expect(exporter.getFinishedSpans()).toHaveLength(0);
    } finally {
      await silo.stop();
    }
  });
});
