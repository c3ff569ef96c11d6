/**
 * The limit for silo-to-silo calls over NATS, with nothing of Granary above the wire: request
 * and reply on plain NATS the fastest way PERF-NOTES measured — `publish` with a reply subject
 * under one shared inbox subscription and a correlation map, not `nc.request()` per call —
 * and with the same batching as Granary's transport (silo/nats/transport.ts, responder.ts):
 * records queued in the same tick for the same subject travel in one message, in the same
 * framing (silo/nats/frames.ts). No codec, routing, timers or activations: what is left of a
 * Granary call when those cost nothing.
 */
import { createInbox, type NatsConnection } from 'nats';
import { packFrames, readFrame, record, type OutRecord } from '../silo/nats/frames.js';

const maxFrame = (nc: NatsConnection): number => nc.info?.max_payload ?? 1024 * 1024;

/** The calling side: `request(text)` resolves to the answer's text. */
export class RawRpcClient {
  private readonly pending = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  /** The ids each message carried, so a "no responders" status fails exactly those. */
  private readonly batches = new Map<number, number[]>();
  private queue: OutRecord[] = [];
  private scheduled = false;
  private nextId = 0;
  private nextBatch = 0;
  private readonly inbox = createInbox() + '.';

  constructor(private readonly nc: NatsConnection, private readonly subject: string) {
    nc.subscribe(this.inbox + '*', {
      callback: (_err, msg) => {
        const seq = Number(msg.subject.slice(this.inbox.length));
        if (msg.data.length === 0 && msg.headers?.code === 503) {
          for (const id of this.batches.get(seq) ?? []) this.settle(id)?.reject(new Error(`no responders on ${subject}`));
        } else {
          readFrame(msg.data, (id, _kind, text) => this.settle(id)?.resolve(text));
        }
        this.batches.delete(seq);
      },
    });
  }

  request(text: string): Promise<string> {
    const rec = record(++this.nextId, 0, text);
    return new Promise((resolve, reject) => {
      this.pending.set(rec.id, { resolve, reject });
      this.queue.push(rec);
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.flush);
      }
    });
  }

  private settle(id: number) {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const queued = this.queue;
    this.queue = [];
    for (const { frame, records } of packFrames(queued, maxFrame(this.nc))) {
      const seq = ++this.nextBatch;
      this.batches.set(seq, records.map((r) => r.id));
      this.nc.publish(this.subject, frame, { reply: this.inbox + seq });
    }
  };
}

/** The answering side: every record on `subject` is answered with `answer(text)`; replies of a tick go together. */
export function serveRawRpc(nc: NatsConnection, subject: string, answer: (text: string) => string): void {
  const replies = new Map<string, OutRecord[]>();
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    for (const [to, list] of replies) for (const { frame } of packFrames(list, maxFrame(nc))) nc.publish(to, frame);
    replies.clear();
  };
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      const to = msg.reply;
      if (!to) return;
      readFrame(msg.data, (id, _kind, text) => {
        const rec = record(id, 0, answer(text));
        const list = replies.get(to);
        if (list === undefined) replies.set(to, [rec]);
        else list.push(rec);
      });
      if (!scheduled) {
        scheduled = true;
        process.nextTick(flush);
      }
    },
  });
}
