/**
 * The streams model's public types and the checks every path shares (grains, clients, the
 * HTTP gateway, Workers): stream names are validated like grain keys, and an item is encoded
 * with the wire codec and refused, before anything is appended, when it cannot be encoded or
 * is larger than the provider's limit.
 */
import { encode } from '../../codec.js';
import { InvalidArgumentError } from '../../errors.js';

/** What a subscriber learns with each item. */
export interface StreamItemMeta {
  readonly namespace: string;
  readonly key: string;
  /** The item's per-stream sequence number (1, 2, 3, …). */
  readonly seq: number;
}

/** `subscribe(…, { from })`: replay retained items from this seq; omitted: only items published from now on. */
export interface StreamSubscribeOptions {
  from?: number;
}

/** A grain's durable subscription (`getStream(ns, key).subscribe('method')`, `getStreamSubscriptions()`). */
export interface StreamSubscriptionHandle {
  readonly id: string;
  readonly namespace: string;
  readonly key: string;
  /** The subscriber's method that receives `(item, meta)`. */
  readonly method: string;
  /** Ends the subscription: delivery stops (items already read ahead may still arrive, at least once semantics). */
  unsubscribe(): Promise<void>;
}

/** A stream as a grain sees it. */
export interface GrainStream<T = unknown> {
  readonly namespace: string;
  readonly key: string;
  /** Appends `item`; resolves once it is durably appended, with its seq. */
  publish(item: T): Promise<{ seq: number }>;
  /**
   * Subscribes this grain, durably: each item is delivered to `method(item, meta)` as a turn,
   * also after the grain deactivated (it is activated again) and after its silo crashed.
   * Subscribing again with the same method keeps the subscription (and its position, unless
   * `from` is given).
   */
  subscribe(method: string, options?: StreamSubscribeOptions): Promise<StreamSubscriptionHandle>;
}

/** A client's subscription (`client.getStream(ns, key).subscribe(fn)`); it lives as long as the client. */
export interface ClientStreamSubscription {
  close(): Promise<void>;
}

/** A stream as a client sees it. */
export interface ClientStream<T = unknown> {
  readonly namespace: string;
  readonly key: string;
  publish(item: T): Promise<{ seq: number }>;
  /** Calls `fn` with each item in order, one at a time (the next waits for `fn`'s promise). */
  subscribe(fn: (item: T, meta: StreamItemMeta) => unknown, options?: StreamSubscribeOptions): Promise<ClientStreamSubscription>;
}

const MAX_NAMESPACE_LENGTH = 256;
const MAX_KEY_LENGTH = 1024;
// Control characters and the subject separators of NATS would make names ambiguous on some provider.
const BAD_NAMESPACE = /[\u0000-\u001f\u007f/\\.*>\s]/;
const BAD_KEY = /[\u0000-\u001f\u007f]/;

/** Throws `InvalidArgumentError` for a stream name no provider can carry. */
export function checkStreamName(namespace: unknown, key: unknown): void {
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > MAX_NAMESPACE_LENGTH || BAD_NAMESPACE.test(namespace)) {
    throw new InvalidArgumentError(`stream namespace ${JSON.stringify(namespace)} is invalid: use 1 to ${MAX_NAMESPACE_LENGTH} characters without whitespace, control characters, "/", "\\", ".", "*" or ">" (e.g. "chat")`);
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || BAD_KEY.test(key)) {
    throw new InvalidArgumentError(`stream key ${JSON.stringify(key)} of namespace "${namespace}" is invalid: use 1 to ${MAX_KEY_LENGTH} characters without control characters`);
  }
}

/** Throws `InvalidArgumentError` for a `from` that is not a seq. */
export function checkFrom(from: unknown): number | undefined {
  if (from === undefined) return undefined;
  if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 1) {
    throw new InvalidArgumentError(`stream "from" must be a whole number ≥ 1 (a seq; got ${String(from)})`);
  }
  return from;
}

const utf8 = new TextEncoder();

/** The item's codec text; refuses what cannot be encoded or is larger than `maxBytes`. */
export function encodeStreamItem(item: unknown, maxBytes: number, where: string): string {
  let text: string;
  try {
    text = encode(item);
  } catch (err) {
    throw new InvalidArgumentError(`item for stream ${where} cannot be encoded (${(err as Error).message}); nothing was published`, { cause: err });
  }
  // A UTF-16 length times 3 bounds the UTF-8 length: most items need no count.
  if (text.length * 3 > maxBytes) {
    const bytes = utf8.encode(text).length;
    if (bytes > maxBytes) {
      throw new InvalidArgumentError(`item for stream ${where} is ${bytes} bytes encoded, over the limit of ${maxBytes}; nothing was published (send a reference to large data instead)`);
    }
  }
  return text;
}

/** `"ns/key"` for messages. */
export function streamLabel(namespace: string, key: string): string {
  return `${namespace}/${key}`;
}
