/**
 * A client's streams: `client.getStream(ns, key)`. A cluster client reads and appends through
 * the cluster's stream provider (`GrainClient.connect({ streams })`; TestCluster passes its
 * own); an HTTP client publishes with `POST /streams/…` and follows Server-Sent Events,
 * reconnecting with `Last-Event-ID` so that no item is lost or repeated across a reconnect.
 */
import {
  SiloUnavailableError, checkFrom, checkStreamName, decode, encode, errorFromWire, followStream, publishTo,
  type ClientStream, type ClientStreamSubscription, type DecodeOptions, type StreamItemMeta, type StreamProvider, type WireError,
} from '../runtime/index.js';
import { GRANARY_JSON } from '../runtime/protocol.js';

/** How a client publishes and subscribes (per transport). */
export interface ClientStreams {
  publish(namespace: string, key: string, item: unknown): Promise<number>;
  subscribe(namespace: string, key: string, fn: (item: unknown, meta: StreamItemMeta) => unknown, from: number | undefined): Promise<ClientStreamSubscription>;
  close(): Promise<void>;
}

/** The `ClientStream` a client hands out. */
export function clientStream<T>(streams: ClientStreams | undefined, namespace: string, key: string): ClientStream<T> {
  checkStreamName(namespace, key);
  const backend = () => {
    if (streams === undefined) {
      throw new SiloUnavailableError('this GrainClient has no streams: pass GrainClient.connect({ streams: provider }), or use GrainClient.http(url)');
    }
    return streams;
  };
  return {
    namespace,
    key,
    async publish(item) {
      return { seq: await backend().publish(namespace, key, item) };
    },
    async subscribe(fn, options = {}) {
      if (typeof fn !== 'function') throw new TypeError('subscribe(fn, { from }) needs a function (item, meta) => …');
      return backend().subscribe(namespace, key, fn as (item: unknown, meta: StreamItemMeta) => unknown, checkFrom(options.from));
    },
  };
}

/** Streams over a stream provider (cluster clients). */
export function providerClientStreams(provider: StreamProvider, decodeOptions: DecodeOptions, onError?: (what: string, err: unknown) => void): ClientStreams {
  const open = new Set<ClientStreamSubscription>();
  return {
    publish: (ns, key, item) => publishTo(provider, ns, key, item),
    async subscribe(ns, key, fn, from) {
      const follower = followStream({
        provider, namespace: ns, key, from, decode: (p) => decode(p, decodeOptions), onItem: fn,
        onError: onError ?? ((what, err) => console.warn(`granary client: ${what}:`, err)),
      });
      await follower.ready;
      const sub = { close: async () => { open.delete(sub); await follower.close(); } };
      open.add(sub);
      return sub;
    },
    async close() {
      await Promise.all([...open].map((s) => s.close()));
    },
  };
}

export interface HttpStreamOptions {
  root: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
  decodeOptions: DecodeOptions;
  /** Wait before reconnecting a dropped event stream (default 1 s). */
  reconnectMs?: number;
  onError?(what: string, err: unknown): void;
}

/** Streams over a gateway: POST to publish, Server-Sent Events to follow. */
export function httpClientStreams(o: HttpStreamOptions): ClientStreams {
  const open = new Set<ClientStreamSubscription>();
  const url = (ns: string, key: string) => `${o.root}/streams/${encodeURIComponent(ns)}/${encodeURIComponent(key)}`;
  const report = o.onError ?? ((what, err) => console.warn(`granary client: ${what}:`, err));
  return {
    async publish(ns, key, item) {
      const body = `{"item":${encode(item, 1)}}`;
      let res: Response;
      let text: string;
      try {
        res = await o.fetch(url(ns, key), { method: 'POST', headers: { ...o.headers, 'content-type': GRANARY_JSON }, body });
        text = await res.text();
      } catch (err) {
        throw new SiloUnavailableError(`cannot reach the gateway at ${o.root} to publish to stream ${ns}/${key}: ${(err as Error).message}`, { cause: err });
      }
      let parsed: { seq?: unknown; error?: Partial<WireError> } | undefined;
      try { parsed = JSON.parse(text); } catch { /* below */ }
      if (res.ok && typeof parsed?.seq === 'number') return parsed.seq;
      const e = parsed?.error;
      if (e && typeof e.code === 'string' && typeof e.message === 'string') throw errorFromWire({ code: e.code, name: e.name ?? '', message: e.message, data: e.data, status: e.status });
      throw new SiloUnavailableError(`publishing to stream ${ns}/${key}: unexpected HTTP ${res.status} from the gateway`);
    },
    async subscribe(ns, key, fn, from) {
      const abort = new AbortController();
      let last = from === undefined ? undefined : from - 1;
      let closed = false;
      let first = true;
      // The first connection is made before subscribe resolves, so the position is fixed.
      let connected!: () => void;
      let failed!: (err: unknown) => void;
      const ready = new Promise<void>((resolve, reject) => { connected = resolve; failed = reject; });
      const loop = (async () => {
        while (!closed) {
          const headers: Record<string, string> = { ...o.headers, accept: 'text/event-stream' };
          if (last !== undefined) headers['last-event-id'] = String(last);
          try {
            const res = await o.fetch(url(ns, key), { headers, signal: abort.signal });
            if (!res.ok || res.body === null) {
              const text = await res.text().catch(() => '');
              let e: Partial<WireError> | undefined;
              try { e = JSON.parse(text).error; } catch { /* not JSON */ }
              const err = e && typeof e.code === 'string' ? errorFromWire({ code: e.code, name: e.name ?? '', message: e.message ?? '', data: e.data, status: e.status }) : new SiloUnavailableError(`following stream ${ns}/${key}: HTTP ${res.status}`);
              // Refusals (bad name, auth) are final; the rest is retried.
              if (res.status < 500) { if (first) { first = false; failed(err); } closed = true; return; }
              throw err;
            }
            for await (const ev of sseEvents(res.body)) {
              if (ev.comment !== undefined) { if (first) { first = false; connected(); } continue; }
              if (ev.id === undefined) continue;
              const seq = Number(ev.id);
              if (last !== undefined && seq <= last) continue;
              if (last === undefined && from === undefined) { /* new items only: the first seq we see starts it */ }
              try {
                await fn(decode(ev.data, o.decodeOptions), { namespace: ns, key, seq });
              } catch (err) {
                report(`stream ${ns}/${key} item ${seq}: the subscriber threw; skipped`, err);
              }
              last = seq;
            }
          } catch (err) {
            if (closed) return;
            if (first) { first = false; closed = true; failed(err); return; }
            report(`stream ${ns}/${key}: the event stream dropped; reconnecting`, err);
          }
          if (closed) return;
          await new Promise((r) => setTimeout(r, o.reconnectMs ?? 1_000));
        }
      })();
      await ready;
      const sub: ClientStreamSubscription = {
        async close() {
          closed = true;
          open.delete(sub);
          abort.abort();
          await loop;
        },
      };
      open.add(sub);
      return sub;
    },
    async close() {
      await Promise.all([...open].map((s) => s.close()));
    },
  };
}

interface SseEvent { id?: string; data: string; comment?: string }

/** Parses a `text/event-stream` body (the parts a Granary gateway sends: id, data, comments). */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | undefined;
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.search(/\r\n|\n|\r/)) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (data.length > 0 || id !== undefined) yield { id, data: data.join('\n') };
        id = undefined;
        data = [];
      } else if (line.startsWith(':')) {
        yield { data: '', comment: line.slice(1).trim() };
      } else {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
      }
    }
  }
}
