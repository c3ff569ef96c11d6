/**
 * The answering side of silo-to-silo calls: the silo's subscription on its own subject.
 * Each record of an incoming frame goes to the inbound handler; replies for the same caller
 * that are ready in the same tick go back together in one message. A reply too large for
 * NATS becomes an `InvalidArgumentError` for the caller instead of a dropped connection.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { InvalidArgumentError, toGrainError, type InboundHandler } from '../../runtime/index.js';
import { RECORD_OVERHEAD, ReplyKind, RequestKind, packFrames, readFrame, record, type OutRecord } from './frames.js';

export class Responder {
  private readonly sub: Subscription;
  /** Pings are answered until the connection closes: a draining silo is not dead. */
  private readonly pingSub: Subscription;
  private readonly replies = new Map<string, OutRecord[]>();
  private flushScheduled = false;
  /** Calls received and not answered yet. */
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    subject: string,
    pingSubject: string,
    private readonly handler: InboundHandler,
    private readonly batching: boolean,
    private readonly onBadFrame: (subject: string) => void,
  ) {
    this.sub = nc.subscribe(subject, { callback: (_err, msg) => this.onRequest(msg) });
    this.pingSub = nc.subscribe(pingSubject, { callback: (_err, msg) => this.onRequest(msg) });
  }

  get inFlight(): number {
    return this.active;
  }

  private onRequest(msg: Msg): void {
    const replyTo = msg.reply;
    if (!replyTo) return; // not a request: nobody to answer
    const ok = readFrame(msg.data, (id, kind, text) => {
      if (kind === RequestKind.Ping) {
        this.reply(replyTo, record(id, ReplyKind.Pong, ''));
        return;
      }
      this.active++;
      let answer: Promise<string>;
      try {
        answer = this.handler(text);
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.then(
        (text) => this.answered(replyTo, record(id, ReplyKind.Ok, text)),
        (err) => this.answered(replyTo, failure(id, err)),
      );
    });
    if (!ok) this.onBadFrame(msg.subject);
  }

  private answered(replyTo: string, rec: OutRecord): void {
    this.reply(replyTo, rec);
    if (--this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private reply(replyTo: string, rec: OutRecord): void {
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    if (rec.bytes + RECORD_OVERHEAD > max) {
      rec = failure(rec.id, new InvalidArgumentError(
        `the reply (${rec.bytes} bytes) exceeds the NATS max_payload of ${max} bytes; return smaller results, or raise max_payload on the NATS server`,
        { data: { bytes: rec.bytes, maxPayload: max } },
      ));
    }
    const list = this.replies.get(replyTo);
    if (list === undefined) this.replies.set(replyTo, [rec]);
    else list.push(rec);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const max = this.batching ? (this.nc.info?.max_payload ?? 1024 * 1024) : 0;
    for (const [replyTo, list] of this.replies) {
      for (const { frame } of packFrames(list, max)) {
        try {
          this.nc.publish(replyTo, frame);
        } catch {
          // The connection is closing: the caller's own failure handling takes over.
        }
      }
    }
    this.replies.clear();
  };

  /**
   * Graceful stop (resolves to the calls still unanswered when `timeoutMs` ran out): no new requests (NATS answers "no responders" to later callers, who go
   * elsewhere), every request already received is answered, and the replies are flushed.
   */
  async drain(timeoutMs: number): Promise<number> {
    if (!this.sub.isClosed()) await this.sub.drain().catch(() => undefined);
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    this.flush();
    await this.nc.flush().catch(() => undefined);
    return this.active;
  }

  stop(): void {
    if (!this.sub.isClosed()) this.sub.unsubscribe();
    if (!this.pingSub.isClosed()) this.pingSub.unsubscribe();
  }
}

function failure(id: number, err: unknown): OutRecord {
  return record(id, ReplyKind.Failed, JSON.stringify(toGrainError(err).toWire()));
}
