/**
 * Streams on NATS JetStream (docs/streams.md). The mapping keeps JetStream objects few:
 *
 * - one JetStream stream per namespace, `GRANARY_<cluster>_NS_<namespace>`, with subjects
 *   `granary.<cluster>.stream.<namespace>.<key token>` (the key base64url-encoded unless it is
 *   already a safe token): 100 000 keys are 100 000 subjects of one stream, not 100 000 streams;
 * - retention per key is the stream's `max_msgs_per_subject`;
 * - the per-key seq (1, 2, 3…) rides in the `Granary-Seq` header; an append publishes with
 *   `Nats-Expected-Last-Subject-Sequence` = the JetStream seq of the key's last item, so two
 *   publishers can never give out the same seq (the loser re-reads and tries again);
 * - reads find a key's item by seq with direct gets (`next_by_subj`): sequential reads follow
 *   the last position read, a jump binary-searches the JetStream seqs; a key read with items
 *   found gets a *tail* (stream-tails.ts: an ordered consumer reading ahead into a bounded
 *   window, closed when idle), which answers the next reads without a round trip;
 * - durable subscriptions, their cursors and each grain's list of them are keys of one KV
 *   bucket, `granary_<cluster>_streams`;
 * - `onAppend`: a core subscription to `granary.<cluster>.stream.>` (JetStream publishes reach
 *   core subscribers too; for a key with a tail, the tail announces, once the item is stored
 *   and in its window), plus a resume of every stream after a reconnect;
 * - a cursor write is one round trip: an update expecting the revision this process last
 *   saw of the key (a conditional write keeps "never backwards" when another writer moved it).
 */
import {
  connect, DiscardPolicy, headers as natsHeaders, RetentionPolicy, StorageType,
  type JetStreamClient, type JetStreamManager, type KV, type NatsConnection, type StoredMsg, type Subscription,
} from 'nats';
import {
  DEFAULT_MAX_STREAM_ITEM_BYTES, DEFAULT_STREAM_RETENTION, SiloUnavailableError,
  type StreamProvider, type StreamRead, type StreamSubscriptionRecord,
} from '../../runtime/index.js';
import { connectionOptions } from './connect-options.js';
import { checkClusterName } from './names.js';
import { StreamTails, type TailedItem } from './stream-tails.js';
import type { NatsClusterOptions } from './options.js';
import type { NatsStreamsOptions } from './streams.js';

const SEQ_HEADER = 'Granary-Seq';
const SAFE_TOKEN = /^[A-Za-z0-9_-]{1,200}$/;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A key as one subject token: itself when safe, else `~` + base64url of its UTF-8. */
export function keyToken(key: string): string {
  return SAFE_TOKEN.test(key) ? key : `~${Buffer.from(key, 'utf8').toString('base64url')}`;
}

export function tokenKey(token: string): string {
  return token.startsWith('~') ? Buffer.from(token.slice(1), 'base64url').toString('utf8') : token;
}

/** KV keys take [-/_=.a-zA-Z0-9]: every part base64url-encoded. */
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url').toString('utf8');

interface Position { seq: number; js: number }

/** Direct gets (the stream allows them): the manager has them, its interface type does not say so. */
type DirectGet = { getMessage(stream: string, query: { seq?: number; next_by_subj?: string; last_by_subj?: string }): Promise<StoredMsg> };
const direct = (jsm: JetStreamManager) => (jsm as unknown as { direct: DirectGet }).direct;

export function createNatsStreams(options: NatsStreamsOptions): StreamProvider & { close(): Promise<void> } {
  const cluster = checkClusterName(options.name);
  const retention = options.retention ?? DEFAULT_STREAM_RETENTION;
  if (!Number.isInteger(retention) || retention < 1) throw new RangeError(`stream retention must be a whole number ≥ 1 (got ${options.retention})`);
  const maxItemBytes = options.maxItemBytes ?? DEFAULT_MAX_STREAM_ITEM_BYTES;
  const publishTimeoutMs = options.publishTimeoutMs ?? 2_000;
  const subjectPrefix = `granary.${cluster}.stream`;
  const kickPrefix = `granary.${cluster}.streamwork`;
  const streamName = (ns: string) => `GRANARY_${cluster}_NS_${ns}`;
  const subject = (ns: string, key: string) => `${subjectPrefix}.${ns}.${keyToken(key)}`;
  const where = Array.isArray(options.servers) ? options.servers.join(',') : String(options.servers);

  type Opened = { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager; kv: KV; tails: StreamTails };
  let opened: Promise<Opened> | undefined;
  /** What `opened` resolved to, while it stands (an append then needs no extra turn to get it). */
  let connection: Opened | undefined;
  /** Namespaces whose JetStream stream is known to exist. */
  const ensuredDone = new Set<string>();
  /** The tails of the connection opened last (undefined before it). */
  let tails: StreamTails | undefined;
  /** The revision and value of each cursor key as this process last saw it (its next write expects that revision). */
  const cursorRevisions = new Map<string, { revision: number; value: number | undefined }>();
  const knowCursor = (k: string, revision: number, value: number | undefined) => {
    cursorRevisions.delete(k);
    cursorRevisions.set(k, { revision, value });
    if (cursorRevisions.size > 10_000) cursorRevisions.delete(cursorRevisions.keys().next().value!);
  };
  const ensured = new Map<string, Promise<void>>();
  /** The last position appended or read per key: where a sequential read goes on from. */
  const positions = new Map<string, Position>();
  /** Appends of this process go one at a time per key (none of them loses the seq race to another). */
  const appending = new Map<string, Promise<unknown>>();
  const listeners = new Set<(ns: string, key: string, seq: number) => void>();
  let closed = false;

  const remember = (sk: string, p: Position) => {
    positions.delete(sk);
    positions.set(sk, p);
    if (positions.size > 10_000) positions.delete(positions.keys().next().value!);
  };

  function unavailable(what: string, err: unknown): SiloUnavailableError {
    return new SiloUnavailableError(`${what} on NATS JetStream at ${where} failed: ${(err as Error)?.message ?? String(err)}; retry when NATS is back`, { cause: err });
  }

  function open() {
    opened ??= (async () => {
      // No async traces: each request would build two Errors for their stacks; ours say what failed.
      const nc = await connect({ ...connectionOptions(options as NatsClusterOptions, `granary:${cluster}:streams`, `granary.${cluster}.inbox.silo.streams`), noAsyncTraces: true });
      const jsm = await nc.jetstreamManager({ timeout: publishTimeoutMs });
      const js = nc.jetstream({ timeout: publishTimeoutMs });
      const kv = await js.views.kv(`granary_${cluster}_streams`, {
        history: 1, storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File, replicas: options.replicas ?? 1,
      });
      tails?.stop();
      const t = new StreamTails({
        js, streamName, subject, retention, seqOf: (m) => Number(m.headers?.get(SEQ_HEADER)),
        notify: (ns, key, seq) => { for (const fn of listeners) fn(ns, key, seq); },
      });
      tails = t;
      // The announcements are only followed while someone listens: a process that only
      // publishes (a client) would otherwise receive back every item it appends.
      if (listeners.size > 0) follow(nc, t);
      // After a reconnect, appends made meanwhile were never announced here: announce every stream.
      void (async () => {
        for await (const s of nc.status()) {
          if (s.type === 'disconnect') t.closeAll();
          if (s.type === 'reconnect') {
            t.closeAll();
            provider.streams().then((all) => { for (const x of all) for (const fn of listeners) fn(x.namespace, x.key, 0); }, () => undefined);
          }
        }
      })();
      connection = { nc, js, jsm, kv, tails: t };
      return connection;
    })();
    opened.catch(() => { opened = undefined; });
    return opened;
  }

  /** The core subscriptions that announce appends and subscriptions (while listeners exist). */
  let following: { nc: NatsConnection; subs: Subscription[] } | undefined;
  function follow(nc: NatsConnection, t: StreamTails): void {
    if (following?.nc === nc) return;
    const subs: Subscription[] = [];
    following = { nc, subs };
    subs.push(nc.subscribe(`${subjectPrefix}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const parts = msg.subject.split('.');
        const seq = Number(msg.headers?.get(SEQ_HEADER) ?? 0);
        const ns = parts[3]!;
        const key = tokenKey(parts.slice(4).join('.'));
        // A tailed key is announced by its tail, once the item is stored and readable there.
        const sk = `${ns}\u0000${key}`;
        if (t.announces(sk)) { t.expect(sk, seq); return; }
        for (const fn of listeners) fn(ns, key, seq);
      },
    }));
    // Announcements (a subscription made elsewhere): core NATS only, outside the streams' subjects.
    subs.push(nc.subscribe(`${kickPrefix}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const parts = msg.subject.split('.');
        const ns = parts[3]!;
        const key = tokenKey(parts.slice(4).join('.'));
        for (const fn of listeners) fn(ns, key, 0);
      },
    }));
  }

  function unfollow(): void {
    for (const sub of following?.subs ?? []) sub.unsubscribe();
    following = undefined;
  }

  async function ensureStream(ns: string): Promise<void> {
    let p = ensured.get(ns);
    if (p === undefined) {
      p = (async () => {
        const { jsm } = await open();
        const config = {
          name: streamName(ns),
          subjects: [`${subjectPrefix}.${ns}.*`],
          retention: RetentionPolicy.Limits,
          max_msgs_per_subject: retention,
          discard: DiscardPolicy.Old,
          storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
          num_replicas: options.replicas ?? 1,
          allow_direct: true,
          max_msg_size: maxItemBytes + 1024,
        };
        try {
          const info = await jsm.streams.info(config.name);
          if (info.config.max_msgs_per_subject !== retention) await jsm.streams.update(config.name, { ...info.config, max_msgs_per_subject: retention });
        } catch (err) {
          if (!/stream not found/i.test((err as Error).message)) throw err;
          await jsm.streams.add(config);
        }
      })();
      ensured.set(ns, p);
      p.then(() => ensuredDone.add(ns), () => ensured.delete(ns));
    }
    return p;
  }

  /** The message of `subj` at JetStream seq ≥ `from` (undefined: none). */
  async function nextBySubject(ns: string, subj: string, from: number): Promise<StoredMsg | undefined> {
    const { jsm } = await open();
    try {
      return await direct(jsm).getMessage(streamName(ns), { seq: from, next_by_subj: subj });
    } catch (err) {
      if (/no message found|not found/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  async function lastOf(ns: string, subj: string): Promise<StoredMsg | undefined> {
    const { jsm } = await open();
    try {
      return await direct(jsm).getMessage(streamName(ns), { last_by_subj: subj });
    } catch (err) {
      if (/no message found|not found/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  const seqOf = (m: StoredMsg) => Number(m.header.get(SEQ_HEADER));

  async function appendOnce(ns: string, key: string, payload: string): Promise<number> {
    const { js } = connection ?? await open();
    if (!ensuredDone.has(ns)) await ensureStream(ns);
    const subj = subject(ns, key);
    const sk = `${ns}\u0000${key}`;
    for (let attempt = 0; ; attempt++) {
      let last = positions.get(sk);
      if (last === undefined || attempt > 0) {
        const m = await lastOf(ns, subj);
        last = m === undefined ? { seq: 0, js: 0 } : { seq: seqOf(m), js: m.seq };
      }
      const h = natsHeaders();
      h.set(SEQ_HEADER, String(last.seq + 1));
      try {
        const ack = await js.publish(subj, enc.encode(payload), { headers: h, expect: { lastSubjectSequence: last.js }, timeout: publishTimeoutMs });
        remember(sk, { seq: last.seq + 1, js: ack.seq });
        tails?.appended(sk, last.seq + 1);
        return last.seq + 1;
      } catch (err) {
        // Another publisher appended first: re-read the key's last item and try again.
        if (/wrong last sequence/i.test((err as Error).message) && attempt < 50) continue;
        throw err;
      }
    }
  }

  /** The JetStream seq of the key's item `seq` (or of the first retained after it). */
  async function locate(ns: string, subj: string, sk: string, seq: number): Promise<StoredMsg | undefined> {
    const known = positions.get(sk);
    if (known !== undefined && known.seq === seq - 1) {
      const m = await nextBySubject(ns, subj, known.js + 1);
      if (m === undefined || seqOf(m) === seq) return m;
    }
    const first = await nextBySubject(ns, subj, 1);
    if (first === undefined || seqOf(first) >= seq) return first;
    const last = await lastOf(ns, subj);
    if (last === undefined || seqOf(last) < seq) return undefined;
    let lo = first.seq + 1;
    let hi = last.seq;
    let found: StoredMsg = last;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = await nextBySubject(ns, subj, mid);
      if (m === undefined) { hi = mid - 1; continue; }
      const g = seqOf(m);
      if (g === seq) return m;
      if (g < seq) lo = m.seq + 1;
      else { found = m; hi = mid - 1; }
    }
    return found;
  }

  const kvGet = async (k: string) => (await (await open()).kv.get(k))?.string();
  const kvKeys = async (filter: string) => {
    const out: string[] = [];
    for await (const k of await (await open()).kv.keys(filter)) out.push(k);
    return out;
  };
  const subKey = (ns: string, key: string, id: string) => `sub.${b64(ns)}.${b64(key)}.${b64(id)}`;
  const curKey = (ns: string, key: string, c: string) => `cur.${b64(ns)}.${b64(key)}.${b64(c)}`;
  const grainKey = (g: string, ns: string, key: string, id: string) => `grain.${b64(g)}.${b64(ns)}.${b64(key)}.${b64(id)}`;

  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new SiloUnavailableError('this NATS stream provider is closed');
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SiloUnavailableError) throw err;
      throw unavailable(what, err);
    }
  };

  const provider: StreamProvider & { close(): Promise<void> } = {
    name: `jetstream:${cluster}`,
    retention,
    maxItemBytes,
    append(ns, key, payload) {
      const sk = `${ns}\u0000${key}`;
      const before = appending.get(sk);
      const one = () => guard(`publishing to stream ${ns}/${key}`, () => appendOnce(ns, key, payload));
      const run = before === undefined ? one() : before.then(one);
      const tail = run.catch(() => undefined);
      appending.set(sk, tail);
      void tail.then(() => { if (appending.get(sk) === tail) appending.delete(sk); });
      return run;
    },
    read(ns, key, from, limit): Promise<StreamRead> {
      return guard(`reading stream ${ns}/${key}`, async () => {
        const sk = `${ns}\u0000${key}`;
        const { tails: t } = await open();
        // An active key: its tail has the items, no round trip.
        const fromTail = await t.read(sk, from, limit);
        if (fromTail !== undefined) return fromTail;
        await ensureStream(ns);
        const subj = subject(ns, key);
        const last = await lastOf(ns, subj);
        if (last === undefined) return { items: [], first: 1, last: 0 };
        const lastSeq = seqOf(last);
        const items: TailedItem[] = [];
        let first = lastSeq + 1;
        if (limit > 0 && from <= lastSeq) {
          let m = await locate(ns, subj, sk, Math.max(1, from));
          if (m !== undefined) first = Math.min(first, seqOf(m));
          while (m !== undefined && items.length < limit) {
            items.push({ seq: seqOf(m), js: m.seq, payload: dec.decode(m.data) });
            remember(sk, { seq: seqOf(m), js: m.seq });
            if (seqOf(m) >= lastSeq) break;
            m = await nextBySubject(ns, subj, m.seq + 1);
          }
          // Items found: the key is being read; read ahead from here on.
          // (The first item found past `from`: the ones before it are gone.)
          if (items.length > 0) t.start(ns, key, sk, items, items[0]!.seq > from ? items[0]!.seq : 1, positions.get(sk)?.seq ?? 0);
          return { items: items.map((i) => ({ seq: i.seq, payload: i.payload })), first, last: lastSeq };
        } else {
          const f = await nextBySubject(ns, subj, 1);
          if (f !== undefined) first = seqOf(f);
        }
        return { items, first, last: lastSeq };
      });
    },
    announce(ns, key) {
      return guard(`announcing stream ${ns}/${key}`, async () => {
        const { nc } = await open();
        nc.publish(`${kickPrefix}.${ns}.${keyToken(key)}`);
        await nc.flush();
      });
    },
    onAppend(listener) {
      listeners.add(listener);
      void open().then(({ nc, tails: t }) => { if (listeners.size > 0 && !closed) follow(nc, t); }, () => undefined);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) unfollow();
      };
    },
    putSubscription(record, cursor, reset) {
      return guard(`subscribing to stream ${record.namespace}/${record.key}`, async () => {
        const { kv } = await open();
        const sk = subKey(record.namespace, record.key, record.id);
        const existed = (await kv.get(sk))?.operation === 'PUT';
        await kv.put(sk, JSON.stringify(record));
        await kv.put(grainKey(record.grain, record.namespace, record.key, record.id), JSON.stringify(record));
        const ck = curKey(record.namespace, record.key, record.id);
        if (!existed || reset) knowCursor(ck, await kv.put(ck, String(cursor)), cursor);
      });
    },
    removeSubscription(ns, key, id) {
      return guard(`unsubscribing from stream ${ns}/${key}`, async () => {
        const { kv } = await open();
        const e = await kv.get(subKey(ns, key, id));
        if (e === null || e.operation !== 'PUT') return false;
        const rec = JSON.parse(e.string()) as StreamSubscriptionRecord;
        await kv.purge(subKey(ns, key, id));
        await kv.purge(curKey(ns, key, id));
        cursorRevisions.delete(curKey(ns, key, id));
        await kv.purge(grainKey(rec.grain, ns, key, id));
        return true;
      });
    },
    subscriptions(ns, key) {
      return guard(`listing the subscriptions of stream ${ns}/${key}`, async () => {
        const out: StreamSubscriptionRecord[] = [];
        for (const k of await kvKeys(`sub.${b64(ns)}.${b64(key)}.*`)) {
          const v = await kvGet(k);
          if (v) out.push(JSON.parse(v) as StreamSubscriptionRecord);
        }
        return out;
      });
    },
    subscriptionsOf(grain) {
      return guard(`listing the stream subscriptions of ${grain}`, async () => {
        const out: StreamSubscriptionRecord[] = [];
        for (const k of await kvKeys(`grain.${b64(grain)}.>`)) {
          const v = await kvGet(k);
          if (v) out.push(JSON.parse(v) as StreamSubscriptionRecord);
        }
        return out;
      });
    },
    cursor(ns, key, consumer) {
      return guard(`reading a stream cursor of ${ns}/${key}`, async () => {
        const k = curKey(ns, key, consumer);
        const e = await (await open()).kv.get(k);
        const v = e !== null && e.operation === 'PUT' && e.string() !== '' ? Number(e.string()) : undefined;
        knowCursor(k, e?.revision ?? 0, v);
        return v;
      });
    },
    setCursor(ns, key, consumer, seq) {
      return guard(`moving a stream cursor of ${ns}/${key}`, async () => {
        const { kv } = await open();
        const k = curKey(ns, key, consumer);
        // One round trip when this process saw the key last: an update expecting that revision.
        // Another writer moved it meanwhile (the update is refused): read it, and write only forwards.
        for (let attempt = 0; ; attempt++) {
          let known = cursorRevisions.get(k);
          if (known === undefined) {
            const e = await kv.get(k);
            known = { revision: e?.revision ?? 0, value: e !== null && e.operation === 'PUT' ? Number(e.string()) : undefined };
            knowCursor(k, known.revision, known.value);
          }
          if (known.value !== undefined && known.value >= seq) return;
          try {
            // (Revision 0: no such key yet. A put expecting none, as `kv.create` does without its fallbacks.)
            const revision = known.revision === 0
              ? await kv.put(k, String(seq), { previousSeq: 0 })
              : await kv.update(k, String(seq), known.revision);
            knowCursor(k, revision, seq);
            return;
          } catch (err) {
            cursorRevisions.delete(k);
            if (!/wrong last sequence|key exists/i.test((err as Error).message) || attempt >= 10) throw err;
          }
        }
      });
    },
    streams() {
      return guard('listing streams', async () => {
        const { jsm } = await open();
        const seen = new Map<string, { namespace: string; key: string }>();
        for (const k of await kvKeys('sub.>')) {
          const [, ns, key] = k.split('.');
          const s = { namespace: unb64(ns!), key: unb64(key!) };
          seen.set(`${s.namespace}\u0000${s.key}`, s);
        }
        const prefix = `GRANARY_${cluster}_NS_`;
        for await (const info of jsm.streams.list()) {
          if (!info.config.name.startsWith(prefix)) continue;
          const ns = info.config.name.slice(prefix.length);
          const full = await jsm.streams.info(info.config.name, { subjects_filter: '>' });
          for (const subj of Object.keys(full.state.subjects ?? {})) {
            const key = tokenKey(subj.slice(`${subjectPrefix}.${ns}.`.length));
            seen.set(`${ns}\u0000${key}`, { namespace: ns, key });
          }
        }
        return [...seen.values()];
      });
    },
    async close() {
      closed = true;
      listeners.clear();
      unfollow();
      tails?.stop();
      connection = undefined;
      const o = opened;
      opened = undefined;
      if (o) await (await o.catch(() => undefined))?.nc.drain().catch(() => undefined);
    },
  };
  return provider;
}
