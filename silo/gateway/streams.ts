/**
 * Streams over HTTP: `POST /streams/:namespace/:key` with `{"item": …}` → `{"seq": n}`, and
 * `GET /streams/:namespace/:key?from=<seq>` as Server-Sent Events, one event per item with
 * `id:` = its seq and `data:` = the item as the codec's text (plain JSON for plain values),
 * resumable with `Last-Event-ID` (what a browser's `EventSource` sends when it reconnects).
 * Both sit behind the gateway's token, hook and rate limit, like grain calls.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { decode, encode, type DecodeOptions } from '../../runtime/codec.js';
import { publishTo } from '../../runtime/features/streams/backend.js';
import { checkFrom, checkStreamName } from '../../runtime/features/streams/model.js';
import { followStream, type StreamFollower } from '../../runtime/features/streams/follow.js';
import type { StreamProvider } from '../../runtime/stream-storage.js';
import type { StreamItemMeta } from '../../runtime/features/streams/model.js';
import { GRANARY_JSON } from '../../runtime/protocol.js';
import type { GatewayEnv } from './env.js';
import { HttpError } from './http-errors.js';

/** What the gateway needs to serve streams (absent on the backend: the routes answer 404). */
export interface GatewayStreams {
  /** Publishes; rejects with `InvalidArgumentError` (400) or `SiloUnavailableError` (503). */
  publish(namespace: string, key: string, item: unknown): Promise<number>;
  /** Follows a stream from `from` (undefined: new items only), handing items over one at a time. */
  follow(namespace: string, key: string, from: number | undefined, onItem: (item: unknown, meta: StreamItemMeta) => Promise<void>): StreamFollower;
}

export const STREAM_ROUTE = '/streams/:namespace/:key';
/** Comment lines sent on an idle event stream, so proxies keep it open. */
const HEARTBEAT_MS = 15_000;
const decoder = new TextDecoder('utf-8', { fatal: true });

export function streamRoutes(app: Hono<GatewayEnv>, streams: GatewayStreams | undefined, before: MiddlewareHandler<GatewayEnv>[], bodyLimit: MiddlewareHandler, ref: DecodeOptions['ref']): void {
  const names = (c: { req: { param(): Record<string, string> } }) => {
    const { namespace, key } = c.req.param() as { namespace: string; key: string };
    checkStreamName(namespace, key);
    if (streams === undefined) throw new HttpError('not_found', 'this gateway serves no streams (its silo has no stream provider)');
    return { namespace, key, streams };
  };
  for (const step of before) app.post(STREAM_ROUTE, step);
  app.post(STREAM_ROUTE, bodyLimit);
  app.post(STREAM_ROUTE, async (c) => {
    const { namespace, key, streams: s } = names(c);
    const rich = mediaType(c.req.header('content-type'));
    let text: string;
    try {
      text = decoder.decode(await c.req.arrayBuffer());
    } catch {
      throw new HttpError('invalid_request', 'request body is not valid UTF-8');
    }
    let body: unknown;
    try {
      body = rich ? decode(text, ref ? { ref } : undefined, 1) : JSON.parse(text);
    } catch (err) {
      throw new HttpError('invalid_request', `malformed JSON body: ${(err as Error).message}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body) || !('item' in body) || Object.keys(body).length !== 1) {
      throw new HttpError('invalid_request', 'the body must be a JSON object {"item": …}');
    }
    const seq = await s.publish(namespace, key, (body as { item: unknown }).item);
    return c.json({ seq });
  });

  for (const step of before) app.get(STREAM_ROUTE, step);
  app.get(STREAM_ROUTE, (c) => {
    const { namespace, key, streams: s } = names(c);
    const from = startSeq(c.req.header('last-event-id'), c.req.query('from'));
    return streamSSE(c, async (sse) => {
      let done!: () => void;
      const ended = new Promise<void>((resolve) => { done = resolve; });
      const follower = s.follow(namespace, key, from, async (item, meta) => {
        await sse.writeSSE({ id: String(meta.seq), data: encode(item) });
      });
      const heartbeat = setInterval(() => { void sse.write(': keep-alive\n\n').catch(done); }, HEARTBEAT_MS);
      sse.onAbort(done);
      try {
        await follower.ready;
        // Headers and a first line at once, so the client knows the subscription stands.
        await sse.write(': subscribed\n\n');
        await ended;
      } finally {
        clearInterval(heartbeat);
        await follower.close();
      }
    });
  });
  app.all(STREAM_ROUTE, () => {
    throw new HttpError('method_not_allowed', 'streams are POST /streams/:namespace/:key with {"item": …}, or GET for Server-Sent Events', { allow: 'GET, POST' });
  });
}

/** `Last-Event-ID` (the last seq the client got) wins over `?from=`, so a reconnect resumes. */
function startSeq(lastEventId: string | undefined, from: string | undefined): number | undefined {
  if (lastEventId !== undefined && lastEventId.trim() !== '') {
    if (!/^\d{1,15}$/.test(lastEventId.trim())) throw new HttpError('invalid_request', `Last-Event-ID must be a seq (a whole number; got ${JSON.stringify(lastEventId.slice(0, 40))})`);
    return Number(lastEventId) + 1;
  }
  if (from === undefined || from === '') return undefined;
  if (!/^\d{1,15}$/.test(from)) throw new HttpError('invalid_request', `?from= must be a seq ≥ 1 (got ${JSON.stringify(from.slice(0, 40))})`);
  return checkFrom(Number(from));
}

function mediaType(header: string | undefined): boolean {
  const type = header?.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return false;
  if (type === GRANARY_JSON) return true;
  throw new HttpError('unsupported_media_type', `send the item as application/json (or ${GRANARY_JSON}): {"item": …}`);
}

/** Streams served from a stream provider (a silo's, or a Worker's; `pollMs` where appends are not announced). */
export function providerGatewayStreams(provider: StreamProvider, ref: (type: string, key: string) => unknown, pollMs?: number): GatewayStreams {
  return {
    publish: (ns, key, item) => publishTo(provider, ns, key, item),
    follow: (ns, key, from, onItem) => followStream({ provider, namespace: ns, key, from, decode: (p) => decode(p, { ref }), onItem, ...(pollMs !== undefined ? { pollMs } : {}) }),
  };
}
