/**
 * A lean client for the few JetStream KV operations on the directory's hot-ish path (a
 * grain's first call): read the last value of a key, write it conditionally, delete it
 * conditionally. It speaks the KV protocol directly — a publish to `$KV.<bucket>.<key>`
 * with an expected-last-sequence header, and a direct get — with one wildcard reply
 * subscription and a correlation map, like the transport. The `nats` library's KV does the
 * same through `request()`, which builds stack-trace `Error`s and a timer per operation and
 * turns every miss into a thrown error: several times the CPU per operation.
 *
 * Needs the bucket's stream to allow direct gets (buckets made by this provider, or by any
 * recent client on NATS ≥ 2.9, do).
 */
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import { SiloUnavailableError } from '../../runtime/index.js';
import { randomToken } from './tokens.js';

export interface KvRecord {
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  /** Server time of the write, ms since the epoch. */
  created: number;
  value: Uint8Array;
}

/** A conditional write or delete found the key at another revision. */
export const CONFLICT = 'conflict' as const;

interface Waiting {
  resolve(msg: Msg): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence';
const WRONG_LAST_SEQUENCE = 10071;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class KvClient {
  private readonly inboxPrefix: string;
  private readonly sub: Subscription;
  /** By reply token (random: an answer cannot be forged by counting). */
  private readonly waiting = new Map<string, Waiting>();

  /** `inbox`: the prefix of the connection's reply subjects. */
  constructor(private readonly nc: NatsConnection, private readonly bucket: string, private readonly timeoutMs: number, inbox: string) {
    this.inboxPrefix = createInbox(inbox) + '.';
    this.sub = nc.subscribe(this.inboxPrefix + '*', {
      callback: (_err, msg) => {
        const id = msg.subject.slice(this.inboxPrefix.length);
        const w = this.waiting.get(id);
        if (w === undefined) return;
        this.waiting.delete(id);
        clearTimeout(w.timer);
        w.resolve(msg);
      },
    });
  }

  /** The key's latest entry (a delete marker included), or null when it never existed. */
  async get(key: string): Promise<KvRecord | null> {
    const msg = await this.requestAnswered(`$JS.API.DIRECT.GET.KV_${this.bucket}.$KV.${this.bucket}.${key}`, undefined, 'read');
    const h = msg.headers;
    if (h?.code === 404) return null;
    if (h === undefined || (h.code !== 0 && h.code !== 200) || !h.has('Nats-Sequence')) {
      throw new SiloUnavailableError(`reading ${key} from NATS KV bucket ${this.bucket} failed: ${h?.code ?? ''} ${h?.description ?? 'no answer'}`);
    }
    const op = h.get('KV-Operation');
    return {
      revision: Number(h.get('Nats-Sequence')),
      operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
      created: Date.parse(h.get('Nats-Time-Stamp')),
      value: msg.data,
    };
  }

  /** Writes `value`; with `expectRevision` only while the key is at that revision (0: absent). */
  put(key: string, value: string, expectRevision?: number): Promise<number | typeof CONFLICT> {
    return this.write(key, encoder.encode(value), expectRevision, undefined);
  }

  /**
   * Deletes the key (a delete marker); with `expectRevision` only while it is at that
   * revision. Resolves to the marker's revision.
   */
  delete(key: string, expectRevision?: number): Promise<number | typeof CONFLICT> {
    return this.write(key, new Uint8Array(0), expectRevision, 'DEL');
  }

  /**
   * Removes the key's messages below `revision` + 1 — its delete marker at `revision` and
   * anything older — from the bucket's stream, keeping any newer write (a purge with a
   * subject filter and an upper sequence). A bucket keeps the marker of every key ever
   * deleted otherwise. Resolves to the number of messages removed.
   */
  async removeMarker(key: string, revision: number): Promise<number> {
    const body = encoder.encode(JSON.stringify({ filter: `$KV.${this.bucket}.${key}`, seq: revision + 1 }));
    const msg = await this.requestAnswered(`$JS.API.STREAM.PURGE.KV_${this.bucket}`, body, 'purge');
    const answer = JSON.parse(decoder.decode(msg.data)) as { success?: boolean; purged?: number; error?: { description?: string } };
    if (answer.success !== true) throw new SiloUnavailableError(`removing the delete marker of ${key} from NATS KV bucket ${this.bucket} failed: ${answer.error?.description ?? 'no success in the answer'}`);
    return answer.purged ?? 0;
  }

  close(): void {
    this.sub.unsubscribe();
    const err = new SiloUnavailableError('the NATS cluster connection was closed during a KV operation');
    for (const w of this.waiting.values()) { clearTimeout(w.timer); w.reject(err); }
    this.waiting.clear();
  }

  private async write(key: string, data: Uint8Array, expectRevision: number | undefined, operation: 'DEL' | undefined): Promise<number | typeof CONFLICT> {
    const h = expectRevision !== undefined || operation !== undefined ? headers() : undefined;
    if (expectRevision !== undefined) h!.set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(expectRevision));
    if (operation !== undefined) h!.set('KV-Operation', operation);
    const msg = await this.requestAnswered(`$KV.${this.bucket}.${key}`, data, 'write', h);
    if (msg.headers?.code === 503) throw new SiloUnavailableError(`NATS KV bucket ${this.bucket} is not available (no JetStream responders)`);
    let ack: { seq?: number; error?: { err_code?: number; description?: string } };
    try {
      ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
    } catch {
      throw new SiloUnavailableError(`writing ${key} to NATS KV bucket ${this.bucket}: unreadable acknowledgement`);
    }
    if (ack.error !== undefined) {
      if (ack.error.err_code === WRONG_LAST_SEQUENCE) return CONFLICT;
      throw new SiloUnavailableError(`writing ${key} to NATS KV bucket ${this.bucket} failed: ${ack.error.description ?? JSON.stringify(ack.error)}`);
    }
    if (typeof ack.seq !== 'number') throw new SiloUnavailableError(`writing ${key} to NATS KV bucket ${this.bucket}: no sequence in the acknowledgement`);
    return ack.seq;
  }

  /**
   * `request`, sent again while the answer is "no responders" (503), for up to the KV timeout:
   * on a clustered NATS the bucket's stream has no leader for a few seconds after its
   * server died, and a message nobody received cannot have been applied.
   */
  private async requestAnswered(subject: string, data: Uint8Array | undefined, what: string, h?: ReturnType<typeof headers>): Promise<Msg> {
    const until = Date.now() + this.timeoutMs;
    for (let wait = 25; ; wait = Math.min(wait * 2, 400)) {
      const msg = await this.request(subject, data, what, h);
      if (msg.headers?.code !== 503 || Date.now() + wait >= until) return msg;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private request(subject: string, data: Uint8Array | undefined, what: string, h?: ReturnType<typeof headers>): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => {
      const id = randomToken();
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new SiloUnavailableError(`NATS KV bucket ${this.bucket} did not answer a ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.waiting.set(id, { resolve, reject, timer });
      try {
        this.nc.publish(subject, data, h === undefined ? { reply: this.inboxPrefix + id } : { reply: this.inboxPrefix + id, headers: h });
      } catch (err) {
        this.waiting.delete(id);
        clearTimeout(timer);
        reject(new SiloUnavailableError(`cannot ${what} NATS KV bucket ${this.bucket}: ${(err as Error).message}`, { cause: err }));
      }
    });
  }
}
