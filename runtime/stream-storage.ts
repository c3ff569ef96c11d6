/**
 * The stream provider port: ordered, retained logs, one per stream (`namespace`, `key`), with
 * per-stream sequence numbers 1, 2, 3…, durable grain subscriptions, and the cursors of the
 * consumers that deliver them. Items are the wire codec's text (the publisher encodes them),
 * so every provider carries the same rich values. A provider is given to a silo as
 * `StorageProvider.streams` (memory) or `Silo.start({ streams })` (NATS JetStream); the
 * conformance suite (test/streams/provider-conformance.ts) holds every provider to this.
 */

/** One retained item as stored. */
export interface StoredStreamItem {
  readonly seq: number;
  /** The item's codec text. */
  readonly payload: string;
}

/** What `read` found: retained items from `from` on, and the stream's bounds. */
export interface StreamRead {
  readonly items: readonly StoredStreamItem[];
  /** The first retained seq (`last + 1` when nothing is retained). */
  readonly first: number;
  /** The last seq appended (0 when none ever was). */
  readonly last: number;
}

/** A durable grain subscription: deliver every item of the stream to `grain`'s `method`. */
export interface StreamSubscriptionRecord {
  readonly namespace: string;
  readonly key: string;
  /** Stable per (grain, method): subscribing again with the same method is the same subscription. */
  readonly id: string;
  /** `"type/key"` of the subscribing grain. */
  readonly grain: string;
  readonly method: string;
}

export interface StreamProvider {
  /** A short name for logs and errors (`"memory"`, `"jetstream:granary"`). */
  readonly name: string;
  /** Items kept per stream (older ones are dropped, oldest first). */
  readonly retention: number;
  /** Largest item accepted, in bytes of its codec text (publishers refuse larger ones before appending). */
  readonly maxItemBytes: number;
  /**
   * Appends one item; resolves with its seq once it is durable. Rejects with
   * `SiloUnavailableError` when the backing service cannot take it (nothing appended).
   */
  append(namespace: string, key: string, payload: string): Promise<number>;
  /** Retained items with seq ≥ `from`, in order, at most `limit`. */
  read(namespace: string, key: string, from: number, limit: number): Promise<StreamRead>;
  /**
   * Tells `listener` of every append to any stream, made anywhere in the cluster (at least
   * once; a listener re-reads the stream, so a duplicate or a gap costs nothing). Returns
   * the function that stops it.
   */
  onAppend(listener: (namespace: string, key: string, seq: number) => void): () => void;
  /**
   * Tells every `onAppend` listener in the cluster (with seq 0) that the stream has new work
   * without an append: a subscription made on one silo, whose stream another silo delivers.
   */
  announce(namespace: string, key: string): Promise<void>;
  /**
   * Creates the subscription, or keeps the existing one with the same id. Its cursor (the
   * last seq delivered) becomes `cursor` when it is new, or when `reset` is true.
   */
  putSubscription(record: StreamSubscriptionRecord, cursor: number, reset: boolean): Promise<void>;
  /** Removes the subscription and its cursor; resolves `true` if it existed. */
  removeSubscription(namespace: string, key: string, id: string): Promise<boolean>;
  /** The grain subscriptions of one stream. */
  subscriptions(namespace: string, key: string): Promise<StreamSubscriptionRecord[]>;
  /** The subscriptions one grain holds (`"type/key"`). */
  subscriptionsOf(grain: string): Promise<StreamSubscriptionRecord[]>;
  /** The last seq delivered to `consumer` (a subscription id, or an implicit subscriber's id); undefined: none yet. */
  cursor(namespace: string, key: string, consumer: string): Promise<number | undefined>;
  /** Records delivery up to `seq` (never moves backwards). */
  setCursor(namespace: string, key: string, consumer: string, seq: number): Promise<void>;
  /** Every stream that holds items or subscriptions (what a silo resumes after a restart or takeover). */
  streams(): Promise<Array<{ namespace: string; key: string }>>;
  /** Releases connections and timers. */
  close?(): Promise<void>;
}

/** Items kept per stream unless the provider is told otherwise. */
export const DEFAULT_STREAM_RETENTION = 10_000;

/** Largest encoded item (bytes of its codec text) unless the provider is told otherwise. */
export const DEFAULT_MAX_STREAM_ITEM_BYTES = 256 * 1024;
