/**
 * The answering side of calls over NATS: the silo's subscriptions. Each record of an incoming
 * frame goes to the inbound handler; replies for the same caller that are ready in the same
 * tick go back together in one message. A reply too large for NATS becomes an
 * `InvalidArgumentError` for the caller instead of a dropped connection.
 *
 * What a frame may do depends on where it came from (see names.ts):
 * - `call.<silo>` and `gateway` carry client calls: untrusted, so the handler refuses runtime
 *   messages — unless the frame carries a valid cluster-key signature;
 * - `internal.<silo>` carries silo-to-silo calls: trusted (the server's permissions keep
 *   clients off it); with a cluster key, only frames signed with it are taken;
 * - `ping.<silo>`: pings only.
 * A silo answers only to reply subjects under the cluster's inboxes (client calls: under the
 * client inbox), so a forged reply subject (`$KV.…`, `$JS.API.…`) never makes it publish
 * anywhere else; a frame that is malformed or unauthenticated gets one short refusal, not a
 * reply per record; and the error replies to one frame are bounded by its size (below), so a
 * caller cannot draw more bytes than it sends.
 */
import { headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import { InvalidArgumentError, toGrainError, type InboundHandler, type InboundOrigin } from '../../runtime/index.js';
import type { Logger } from '../log.js';
import { SIGNATURE_HEADER, type FrameSigner } from './frame-auth.js';
import { RECORD_OVERHEAD, ReplyKind, RequestKind, packFrames, parseRequestFrame, record, type OutRecord } from './frames.js';
import type { ClusterNames } from './names.js';
import { REFUSAL_HEADER, type Refusal } from './refusal.js';

/** What sent a frame, by the subject it came on. */
type Source = 'client' | 'silo' | 'ping';

/**
 * Error replies to one frame may exceed the requests they answer by this many bytes in all:
 * room for the messages of hundreds of failing calls batched together (an error is usually
 * a few hundred bytes), while a flood of tiny records draws no more than it sent plus this.
 * Past it, an error reply is sent without its text (`Failed`, empty: the caller says the
 * silo withheld it).
 */
const ERROR_SLACK_BYTES = 64 * 1024;

/**
 * How an error reply starts: the inbound handler encodes replies with `k` first (`replyText`
 * in runtime/host-core.ts). test/nats/trust.test.ts measures the bound, so a change of that
 * encoding shows there.
 */
const ERROR_REPLY_PREFIX = '{"k":"err"';

const TRUSTED: InboundOrigin = Object.freeze({ trusted: true });
const UNTRUSTED: InboundOrigin = Object.freeze({ trusted: false });
const EMPTY = new Uint8Array(0);

/** Queue group of the gateway subject: each client call goes to one silo. */
const GATEWAY_QUEUE = 'silos';

/** One refused kind of frame is logged at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface ResponderOptions {
  nc: NatsConnection;
  names: ClusterNames;
  siloId: string;
  handler: InboundHandler;
  batching: boolean;
  /** With a cluster key: internal frames must be signed with it; signed client frames are trusted. */
  signer: FrameSigner | undefined;
  logger: Logger;
}

/** Error replies still allowed for one frame. */
interface FrameBudget {
  slack: number;
}

export class Responder {
  private readonly nc: NatsConnection;
  private readonly names: ClusterNames;
  private readonly handler: InboundHandler;
  private readonly batching: boolean;
  private readonly signer: FrameSigner | undefined;
  private readonly logger: Logger;
  private readonly clientInbox: string;
  private readonly callSub: Subscription;
  private readonly internalSub: Subscription;
  /** Pings are answered until the connection closes: a draining silo is not dead. */
  private readonly pingSub: Subscription;
  /** Opened once the silo has joined (it takes calls for any grain from then on). */
  private gatewaySub: Subscription | undefined;
  private readonly replies = new Map<string, OutRecord[]>();
  private flushScheduled = false;
  /** Calls received and not answered yet. */
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly refusals = new Map<string, { count: number; loggedAt: number }>();

  constructor(o: ResponderOptions) {
    this.nc = o.nc;
    this.names = o.names;
    this.handler = o.handler;
    this.batching = o.batching;
    this.signer = o.signer;
    this.logger = o.logger;
    this.clientInbox = o.names.clientInbox + '.';
    this.callSub = o.nc.subscribe(o.names.callSubject(o.siloId), { callback: (_err, msg) => this.onRequest(msg, 'client') });
    this.internalSub = o.nc.subscribe(o.names.internalSubject(o.siloId), { callback: (_err, msg) => this.onRequest(msg, 'silo') });
    this.pingSub = o.nc.subscribe(o.names.pingSubject(o.siloId), { callback: (_err, msg) => this.onRequest(msg, 'ping') });
  }

  get inFlight(): number {
    return this.active;
  }

  /** Starts taking client calls for any grain (the gateway queue group). */
  openGateway(): void {
    if (this.gatewaySub !== undefined || this.callSub.isClosed()) return;
    this.gatewaySub = this.nc.subscribe(this.names.gatewaySubject, { queue: GATEWAY_QUEUE, callback: (_err, msg) => this.onRequest(msg, 'client') });
  }

  private onRequest(msg: Msg, source: Source): void {
    const replyTo = msg.reply;
    if (!replyTo) return; // not a request: nobody to answer, nothing runs
    // Replies go to the cluster's inboxes only: never to a subject a caller picked elsewhere.
    if (!replyTo.startsWith(source === 'client' ? this.clientInbox : this.names.inboxPrefix)) {
      this.refused('reply-subject', msg.subject, { reply: replyTo.slice(0, 200) });
      return;
    }
    let trusted = source === 'silo';
    if (this.signer !== undefined && source !== 'ping') {
      const signed = this.signer.verify(msg.subject, replyTo, msg.data, msg.headers?.get(SIGNATURE_HEADER));
      if (source === 'silo' && !signed) {
        this.refuse(replyTo, 'unauthenticated', msg.subject);
        return;
      }
      trusted = signed;
    }
    const records = parseRequestFrame(msg.data);
    if (records === undefined || (source === 'ping' && records.some((r) => r.kind !== RequestKind.Ping))) {
      this.refuse(replyTo, 'malformed', msg.subject);
      return;
    }
    const origin = trusted ? TRUSTED : UNTRUSTED;
    const budget: FrameBudget = { slack: ERROR_SLACK_BYTES };
    for (const r of records) {
      if (r.kind === RequestKind.Ping) {
        this.reply(replyTo, record(r.id, ReplyKind.Pong, ''));
        continue;
      }
      this.active++;
      let answer: Promise<string>;
      try {
        answer = this.handler(r.text, origin);
      } catch (err) {
        answer = Promise.reject(err);
      }
      const { id, bytes } = r;
      answer.then(
        (text) => this.answered(replyTo, record(id, ReplyKind.Ok, text), bytes, budget),
        (err) => this.answered(replyTo, failure(id, err), bytes, budget),
      );
    }
  }

  private answered(replyTo: string, rec: OutRecord, requestBytes: number, budget: FrameBudget): void {
    this.reply(replyTo, withinBudget(this.fitted(rec), requestBytes, budget));
    if (--this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** The record, or an error saying it is too large for NATS. */
  private fitted(rec: OutRecord): OutRecord {
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    if (rec.bytes + RECORD_OVERHEAD <= max) return rec;
    return failure(rec.id, new InvalidArgumentError(
      `the reply (${rec.bytes} bytes) exceeds the NATS max_payload of ${max} bytes; return smaller results, or raise max_payload on the NATS server`,
      { data: { bytes: rec.bytes, maxPayload: max } },
    ));
  }

  private reply(replyTo: string, rec: OutRecord): void {
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

  /** One short refusal for the whole frame: a header, no body, whatever the frame held. */
  private refuse(replyTo: string, why: Refusal, subject: string): void {
    this.refused(why, subject);
    const h = headers();
    h.set(REFUSAL_HEADER, why);
    try {
      this.nc.publish(replyTo, EMPTY, { headers: h });
    } catch {
      // closing
    }
  }

  /** Logs refused frames, each kind at most once per interval (with the count meanwhile). */
  private refused(why: string, subject: string, fields: Record<string, unknown> = {}): void {
    const now = performance.now();
    const seen = this.refusals.get(why);
    if (seen !== undefined && now - seen.loggedAt < REFUSAL_LOG_INTERVAL_MS) {
      seen.count++;
      return;
    }
    const count = (seen?.count ?? 0) + 1;
    this.refusals.set(why, { count: 0, loggedAt: now });
    this.logger.warn(REFUSAL_MESSAGES[why] ?? 'refusing a frame', { subject, refused: count, ...fields });
  }

  /**
   * Graceful stop (resolves to the calls still unanswered when `timeoutMs` ran out): no new
   * requests (NATS answers "no responders" to later callers, who go elsewhere), every request
   * already received is answered, and the replies are flushed.
   */
  async drain(timeoutMs: number): Promise<number> {
    await Promise.all([this.callSub, this.internalSub, this.gatewaySub].map((s) => (s !== undefined && !s.isClosed() ? s.drain().catch(() => undefined) : undefined)));
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
    for (const s of [this.callSub, this.internalSub, this.gatewaySub, this.pingSub]) if (s !== undefined && !s.isClosed()) s.unsubscribe();
  }
}

const REFUSAL_MESSAGES: Record<string, string> = {
  'reply-subject': 'ignoring a request whose reply subject is outside the cluster inboxes (a client may only be answered under granary.<cluster>.inbox.client.)',
  malformed: 'refusing a malformed frame',
  unauthenticated: 'refusing a silo-to-silo frame without a valid cluster-key signature (the sender has no GRANARY_CLUSTER_KEY, or another one)',
};

/**
 * An error reply as it may go: within the size of its request, or within what is left of the
 * frame's slack; else without its text. So a frame's error replies never exceed its own size
 * by more than the slack, however many records it holds.
 */
function withinBudget(rec: OutRecord, requestBytes: number, budget: FrameBudget): OutRecord {
  if (rec.bytes <= requestBytes) return rec;
  if (rec.kind !== ReplyKind.Failed && !rec.text.startsWith(ERROR_REPLY_PREFIX)) return rec;
  const excess = rec.bytes - requestBytes;
  if (excess <= budget.slack) {
    budget.slack -= excess;
    return rec;
  }
  return record(rec.id, ReplyKind.Failed, '');
}

function failure(id: number, err: unknown): OutRecord {
  return record(id, ReplyKind.Failed, JSON.stringify(toGrainError(err).toWire()));
}
