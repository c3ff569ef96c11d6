/**
 * Projections: where confirmed events go. A journaled grain with `static journalStream = 'ns'`
 * publishes every confirmed event, once its batch is appended, to each registered publisher
 * with the namespace and the grain's key. The streams capability registers a publisher that
 * writes to the stream `ns/<key>`; until it exists, applications and tests register their own
 * (`registerJournalPublisher`). Delivery is at most once per publisher (a crash between the
 * append and the publish loses the publish, never the event): a read model that must see
 * every event catches up from the journal by version (see grains/shopping-cart.ts).
 */
import type { Grain } from '../../grain.js';
import type { GrainId } from '../../identity.js';

export interface PublishedEvent<E = unknown> {
  /** The event's version: it took the grain from `version` to `version + 1`. */
  version: number;
  event: E;
}

export interface JournalPublication<E = unknown> {
  /** The grain's `static journalStream`. */
  namespace: string;
  /** The grain's key: the stream key within the namespace. */
  key: string;
  grain: GrainId;
  /**
   * The grain that confirmed them, to publish through its own members (the streams feature:
   * `source.getStream(namespace, key).publish(event)`).
   */
  source: Grain<unknown>;
  /** The batch's events, in order. */
  events: PublishedEvent<E>[];
}

export type JournalPublisher = (publication: JournalPublication) => void | Promise<void>;

const publishers = new Set<JournalPublisher>();

/** Adds a publisher of confirmed events; returns the function that removes it. */
export function registerJournalPublisher(publisher: JournalPublisher): () => void {
  if (typeof publisher !== 'function') throw new TypeError('registerJournalPublisher takes a function');
  publishers.add(publisher);
  return () => { publishers.delete(publisher); };
}

/** Whether anyone listens (the feature skips decoding events for nobody). */
export function hasJournalPublishers(): boolean {
  return publishers.size > 0;
}

/** Hands `publication` to every publisher; resolves to the errors they raised (never rejects). */
export async function publishConfirmed(publication: JournalPublication): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const p of [...publishers]) {
    try {
      await p(publication);
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}
