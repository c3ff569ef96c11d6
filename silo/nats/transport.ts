/**
 * The caller side of silo-to-silo calls over NATS. Instead of `nc.request()` per call (a
 * subscription entry, two stack-trace `Error`s and a timer each), every request goes out with
 * `publish` and a reply subject under one wildcard inbox subscription, and a correlation map
 * finds the waiting call. Requests queued in the same tick for the same silo share one NATS
 * message (see `frames.ts`), and each such message has its own reply subject, so the
 * server's "no responders" status (sent to that subject) fails exactly the calls it carried.
 * That subject ends in a random token (tokens.ts) and a reply settles only the calls of its
 * own message, so replies cannot be forged by counting. Which subjects calls go on, and
 * whether frames are signed with the cluster key, is the connection's role (names.ts).
 */
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import {
  InvalidArgumentError, SiloUnavailableError, TimeoutError, errorFromWire,
  type Clock, type TimerHandle, type Transport, type WireError,
} from '../../runtime/index.js';
import { SIGNATURE_HEADER, type FrameSigner } from './frame-auth.js';
import { RECORD_OVERHEAD, ReplyKind, RequestKind, packFrames, readFrame, record, type OutRecord } from './frames.js';
import type { ClusterNames } from './names.js';
import { REFUSAL_HEADER, refusalError } from './refusal.js';
import { randomToken } from './tokens.js';

/** The silo id a gateway-routed client sends to when it does not know where a grain is: any silo. */
export const ANY_SILO = '(any silo)';

export interface TransportOptions {
  nc: NatsConnection;
  names: ClusterNames;
  clock: Clock;
  /** Batch calls per destination into one NATS message. */
  batching: boolean;
  /** How long a call may wait before its silo is asked whether it is still there. */
  probeAfterMs: number;
  /** Called with a silo whose calls wait longer than that (membership then pings it). */
  onSlow: (siloId: string) => void;
  /**
   * `'internal'`: calls go on the silos' own subjects (a silo, or a client trusted like one);
   * `'client'`: on the client subjects, where runtime messages need the cluster key.
   */
  route: 'internal' | 'client';
  /** Prefix of this connection's reply subjects (the silo or the client inbox). */
  inbox: string;
  /** Signs every frame with the cluster key, when there is one. */
  signer: FrameSigner | undefined;
  /**
   * While NATS reconnects, a call not yet sent waits up to `reconnectGraceMs` for the
   * connection (`whenConnected`) before it fails: it never left, so sending it later is safe.
   * Without them, such a call fails at once.
   */
  whenConnected?: (ms: number) => Promise<boolean>;
  reconnectGraceMs?: number;
}

interface Pending extends OutRecord {
  readonly silo: string;
  /** The silo's call subject, or its ping subject. */
  readonly subject: string;
  /** `performance.now()` when it was queued. */
  sentAt: number;
  resolve(reply: { kind: number; text: string }): void;
  reject(err: Error): void;
  timer: TimerHandle | undefined;
  /** The reply token of the NATS message (batch) that carried it, once sent; '' before. */
  batch: string;
}

interface Batch {
  open: number;
  readonly members: Pending[];
}

export type PingResult = 'alive' | 'gone' | 'unknown';

const MAX_ID = 0xffff_ffff;

export class NatsTransport implements Transport {
  /** A request or reply lost between servers (a server killed mid-flight) is re-sent after this (runtime/cluster.ts). */
  readonly attemptTimeoutMs = 5_000;
  private readonly pending = new Map<number, Pending>();
  private readonly bySilo = new Map<string, Set<Pending>>();
  /** By reply token: a reply settles only the calls of the message sent under its token. */
  private readonly batches = new Map<string, Batch>();
  private queue: Pending[] = [];
  private flushScheduled = false;
  private nextId = 0;
  private readonly inboxPrefix: string;
  private readonly nc: NatsConnection;
  private readonly names: ClusterNames;
  private readonly clock: Clock;
  private readonly batching: boolean;
  private readonly probeAfterMs: number;
  private readonly onSlow: (siloId: string) => void;
  private readonly route: 'internal' | 'client';
  private readonly signer: FrameSigner | undefined;
  private readonly sub: Subscription;
  /** False while NATS is reconnecting: requests fail fast instead of piling up. */
  connected = true;
  private closed = false;
  private readonly watchdog: NodeJS.Timeout;
  private readonly probedAt = new Map<string, number>();
  private readonly whenConnected: ((ms: number) => Promise<boolean>) | undefined;
  private readonly reconnectGraceMs: number;

  constructor(o: TransportOptions) {
    this.whenConnected = o.whenConnected;
    this.reconnectGraceMs = o.reconnectGraceMs ?? 0;
    this.nc = o.nc;
    this.names = o.names;
    this.clock = o.clock;
    this.batching = o.batching;
    this.probeAfterMs = o.probeAfterMs;
    this.onSlow = o.onSlow;
    this.route = o.route;
    this.signer = o.signer;
    this.inboxPrefix = createInbox(o.inbox) + '.';
    this.sub = o.nc.subscribe(this.inboxPrefix + '*', { callback: (_err, msg) => this.onReply(msg) });
    this.watchdog = setInterval(() => this.watch(), Math.max(10, Math.floor(o.probeAfterMs / 3)));
    this.watchdog.unref();
  }

  /**
   * A SIGKILLed silo never answers the calls it had, and if every caller is waiting on such
   * a call, nobody sends the next one that would get "no responders". So calls waiting
   * longer than `probeAfterMs` get their silo pinged (through membership, at most once per
   * period per silo): a dead silo is found in a fraction of a second, a busy one answers.
   */
  private watch(): void {
    if (!this.connected || this.bySilo.size === 0) return;
    const now = performance.now();
    for (const [silo, set] of this.bySilo) {
      const oldest = set.values().next().value as Pending | undefined; // a Set iterates in insertion order
      if (oldest === undefined || now - oldest.sentAt < this.probeAfterMs) continue;
      if (now - (this.probedAt.get(silo) ?? -Infinity) < this.probeAfterMs) continue;
      this.probedAt.set(silo, now);
      this.onSlow(silo);
    }
    if (this.probedAt.size > 1000) for (const [silo, at] of this.probedAt) if (now - at > this.probeAfterMs) this.probedAt.delete(silo);
  }

  /** Largest frame the server accepts now (it can differ after a reconnect to another server). */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Requests sent and not yet answered, failed or timed out. */
  get inFlight(): number {
    return this.pending.size;
  }

  request(siloId: string, payload: string, timeoutMs: number): Promise<string> {
    return this.send(siloId, RequestKind.Call, payload, timeoutMs).then(({ kind, text }) => {
      if (kind === ReplyKind.Ok) return text;
      throw errorFromWire(parseWireError(text));
    });
  }

  /**
   * Asks a silo whether it is there, on its ping subject (which it keeps while it drains):
   * `gone` means NATS says nobody listens there.
   */
  ping(siloId: string, timeoutMs: number): Promise<PingResult> {
    return this.send(siloId, RequestKind.Ping, '', timeoutMs).then(
      () => 'alive' as const,
      (err) => (err instanceof SiloUnavailableError && (err.data as { noResponders?: boolean } | undefined)?.noResponders ? 'gone' : 'unknown'),
    );
  }

  /** Fails the calls in flight to `siloId` (sent before `sentBefore`): membership declared it dead. */
  failSilo(siloId: string, err: Error, sentBefore = Infinity): number {
    const set = this.bySilo.get(siloId);
    if (set === undefined) return 0;
    const doomed = [...set].filter((p) => p.sentAt < sentBefore);
    for (const p of doomed) this.fail(p, err);
    return doomed.length;
  }

  /** Fails every call in flight (the NATS connection dropped or closed). */
  failAll(err: Error): void {
    for (const p of [...this.pending.values()]) this.fail(p, err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.failAll(new SiloUnavailableError('the NATS cluster connection was closed while the call was in flight; it may or may not have run', { data: { closed: true } }));
    this.sub.unsubscribe();
  }

  private send(siloId: string, kind: number, text: string, timeoutMs: number): Promise<{ kind: number; text: string }> {
    if (this.closed) return Promise.reject(new SiloUnavailableError('this NATS cluster connection is closed'));
    if (!this.connected && this.whenConnected !== undefined && this.reconnectGraceMs > 0) {
      const waitFrom = this.clock.now();
      const grace = Math.min(this.reconnectGraceMs, timeoutMs);
      // Still down afterwards: sendConnected fails it as before.
      return this.whenConnected(grace).then(() => this.sendConnected(siloId, kind, text, Math.max(1, timeoutMs - (this.clock.now() - waitFrom))));
    }
    return this.sendConnected(siloId, kind, text, timeoutMs);
  }

  private sendConnected(siloId: string, kind: number, text: string, timeoutMs: number): Promise<{ kind: number; text: string }> {
    if (this.closed) return Promise.reject(new SiloUnavailableError('this NATS cluster connection is closed'));
    if (!this.connected) {
      return Promise.reject(new SiloUnavailableError(
        `the NATS connection is down (reconnecting); silo ${siloId} cannot be reached right now, retry shortly`,
        { data: { retryable: true, silo: siloId } },
      ));
    }
    const rec = record(this.takeId(), kind, text);
    const max = this.maxPayload;
    if (rec.bytes + RECORD_OVERHEAD > max) {
      return Promise.reject(new InvalidArgumentError(
        `a message of ${rec.bytes} bytes for silo ${siloId} exceeds the NATS max_payload of ${max} bytes; send smaller arguments, or raise max_payload on the NATS server`,
        { data: { bytes: rec.bytes, maxPayload: max } },
      ));
    }
    return new Promise((resolve, reject) => {
      const p = rec as Pending;
      const subject = kind === RequestKind.Ping ? this.names.pingSubject(siloId) : this.callSubject(siloId);
      Object.assign(p, { silo: siloId, subject, sentAt: performance.now(), resolve, reject, timer: undefined, batch: '' });
      this.pending.set(p.id, p);
      let set = this.bySilo.get(siloId);
      if (set === undefined) this.bySilo.set(siloId, (set = new Set()));
      set.add(p);
      p.timer = this.clock.setTimer(
        () => this.fail(p, new TimeoutError(`silo ${siloId} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.queue.push(p);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the current tick's promise reactions: everything queued meanwhile goes together.
        process.nextTick(this.flush);
      }
    });
  }

  private callSubject(siloId: string): string {
    if (this.route === 'internal') return this.names.internalSubject(siloId);
    return siloId === ANY_SILO ? this.names.gatewaySubject : this.names.callSubject(siloId);
  }

  private takeId(): number {
    this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
    return this.nextId;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const queued = this.queue;
    this.queue = [];
    // Group by destination subject, keeping each silo's calls in order.
    const bySubject = new Map<string, Pending[]>();
    for (const p of queued) {
      if (this.pending.get(p.id) !== p) continue; // settled (timed out, failed) before it left
      const list = bySubject.get(p.subject);
      if (list === undefined) bySubject.set(p.subject, [p]);
      else list.push(p);
    }
    const maxFrame = this.batching ? this.maxPayload : 0;
    for (const [subject, list] of bySubject) {
      const silo = list[0]!.silo;
      for (const { frame, records } of packFrames(list, maxFrame)) {
        const members = records as Pending[];
        const token = randomToken();
        this.batches.set(token, { open: members.length, members });
        for (const m of members) { m.batch = token; m.text = ''; }
        const reply = this.inboxPrefix + token;
        try {
          if (this.signer === undefined) this.nc.publish(subject, frame, { reply });
          else {
            const h = headers();
            h.set(SIGNATURE_HEADER, this.signer.sign(subject, reply, frame));
            this.nc.publish(subject, frame, { reply, headers: h });
          }
        } catch (err) {
          const e = new SiloUnavailableError(`could not send to silo ${silo}: ${(err as Error).message}`, { cause: err, data: { retryable: true, silo } });
          for (const m of members) this.fail(m, e);
        }
      }
    }
  };

  private onReply(msg: Msg): void {
    const token = msg.subject.slice(this.inboxPrefix.length);
    if (!this.batches.has(token)) return; // not a message we sent, or all its calls are settled
    if (msg.data.length === 0) {
      // An empty message with status 503 is the server saying nobody listens on the subject.
      if (msg.headers?.code === 503) this.failBatch(token, (p) => new SiloUnavailableError(`no responders for silo ${p.silo}: it is gone (the call was not delivered)`, {
        data: { retryable: true, silo: p.silo, noResponders: true },
      }));
      else if (msg.headers?.has(REFUSAL_HEADER)) this.failBatch(token, (p) => refusalError(msg.headers?.get(REFUSAL_HEADER), p.silo));
      return;
    }
    readFrame(msg.data, (id, kind, text) => {
      const p = this.pending.get(id);
      if (p === undefined || p.batch !== token) return; // timed out or failed already, or not of this message
      this.settle(p);
      p.resolve({ kind, text });
    });
  }

  /** Fails every call still waiting that the message sent under `token` carried. */
  private failBatch(token: string, error: (p: Pending) => Error): void {
    const batch = this.batches.get(token);
    if (batch === undefined) return;
    this.batches.delete(token);
    for (const p of batch.members) {
      if (this.pending.get(p.id) !== p) continue;
      this.fail(p, error(p));
    }
  }

  private fail(p: Pending, err: Error): void {
    if (this.pending.get(p.id) !== p) return;
    this.settle(p);
    p.reject(err);
  }

  private settle(p: Pending): void {
    this.pending.delete(p.id);
    const set = this.bySilo.get(p.silo);
    if (set !== undefined) {
      set.delete(p);
      if (set.size === 0) this.bySilo.delete(p.silo);
    }
    p.timer?.cancel();
    if (p.batch !== '') {
      const b = this.batches.get(p.batch);
      if (b !== undefined && --b.open === 0) this.batches.delete(p.batch);
    }
  }
}

function parseWireError(text: string): WireError {
  if (text === '') {
    // The silo withheld the error's text: the message that carried the call drew more error
    // bytes than it held (responder.ts bounds them; a real caller does not get here).
    return { code: 'invalid_argument', name: 'InvalidArgumentError', message: 'the silo refused the call and withheld why: the message that carried it drew more error replies than its size allows' };
  }
  try {
    const w = JSON.parse(text) as WireError;
    if (w && typeof w.code === 'string' && typeof w.message === 'string') return w;
  } catch {
    // fall through
  }
  return { code: 'silo_unavailable', name: 'SiloUnavailableError', message: `the silo answered with an unreadable error: ${text.slice(0, 200)}` };
}
