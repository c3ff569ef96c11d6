/**
 * `natsStreams(options)`: streams on NATS JetStream (the mapping is described in
 * streams-provider.ts and docs/streams.md). Like `natsCluster`, it checks its options at once
 * and loads the NATS client only on first use, so importing `granary` loads no NATS module.
 */
import { DEFAULT_MAX_STREAM_ITEM_BYTES, DEFAULT_STREAM_RETENTION, type StreamProvider } from '../../runtime/index.js';
import { checkClusterName } from './names.js';
import type { NatsClusterOptions } from './options.js';

export interface NatsStreamsOptions extends Pick<NatsClusterOptions, 'servers' | 'token' | 'user' | 'pass' | 'nkeySeed' | 'creds' | 'credsFile' | 'tls' | 'authenticator'> {
  /** The cluster's name (as `natsCluster({ name })`); names the JetStream streams, subjects and bucket. */
  name: string;
  /** Items kept per stream key (default 10 000): the JetStream `max_msgs_per_subject`. */
  retention?: number;
  /** Largest item in bytes of codec text (default 256 KiB; at most the server's max_payload). */
  maxItemBytes?: number;
  /** How long a publish waits for JetStream's ack before it rejects with `SiloUnavailableError` (default 2 s). */
  publishTimeoutMs?: number;
  /** JetStream storage of the streams and the bucket (default `file`). */
  storage?: 'file' | 'memory';
  /** Replicas (default 1; 3 on a 3-node NATS cluster). */
  replicas?: number;
}

type Provider = StreamProvider & { close(): Promise<void> };

export function natsStreams(options: NatsStreamsOptions): Provider {
  checkClusterName(options.name);
  const retention = options.retention ?? DEFAULT_STREAM_RETENTION;
  if (!Number.isInteger(retention) || retention < 1) throw new RangeError(`stream retention must be a whole number ≥ 1 (got ${options.retention})`);
  let impl: Promise<Provider> | undefined;
  /** The provider once loaded: calls then go straight to it (no extra turn per publish). */
  let loaded: Provider | undefined;
  const load = () => (impl ??= import('./streams-provider.js').then((m) => (loaded = m.createNatsStreams(options))));
  const listeners: Array<{ fn: (ns: string, key: string, seq: number) => void; off?: () => void; gone: boolean }> = [];
  const lazy = <A extends unknown[], R>(pick: (p: Provider) => (...a: A) => Promise<R>) => (...a: A): Promise<R> =>
    loaded !== undefined ? pick(loaded)(...a) : load().then((p) => pick(p)(...a));
  return {
    name: `jetstream:${options.name}`,
    retention,
    maxItemBytes: options.maxItemBytes ?? DEFAULT_MAX_STREAM_ITEM_BYTES,
    append: lazy((p) => p.append),
    read: lazy((p) => p.read),
    putSubscription: lazy((p) => p.putSubscription),
    removeSubscription: lazy((p) => p.removeSubscription),
    subscriptions: lazy((p) => p.subscriptions),
    subscriptionsOf: lazy((p) => p.subscriptionsOf),
    cursor: lazy((p) => p.cursor),
    setCursor: lazy((p) => p.setCursor),
    streams: lazy((p) => p.streams),
    announce: lazy((p) => p.announce),
    onAppend(fn) {
      const entry: (typeof listeners)[number] = { fn, gone: false };
      listeners.push(entry);
      void load().then((p) => { if (!entry.gone) entry.off = p.onAppend(fn); });
      return () => { entry.gone = true; entry.off?.(); };
    },
    async close() {
      if (impl !== undefined) await (await impl).close();
    },
  };
}
