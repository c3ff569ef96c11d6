/**
 * What a journaled grain class declares (its statics), read and checked once per type.
 */
import type { GrainType } from '../../grain-type.js';

export interface JournalSpec {
  /** Write a snapshot every this many events; 0: never. */
  readonly snapshotEvery: number;
  /** The schema version of the events this code raises. */
  readonly eventVersion: number;
  /** The stream namespace confirmed events are published to, if any. */
  readonly journalStream: string | undefined;
}

/** The statics a journaled grain class may declare (declared on `JournaledGrain`). */
export interface JournalStatics {
  snapshotEvery?: number;
  eventVersion?: number;
  journalStream?: string;
}

const specs = new WeakMap<GrainType, JournalSpec>();

/** The journal spec of `type` (a journaled grain type), checked once. */
export function journalSpec(type: GrainType): JournalSpec {
  let spec = specs.get(type);
  if (spec !== undefined) return spec;
  const cls = type.cls as JournalStatics;
  const snapshotEvery = cls.snapshotEvery ?? 0;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 0) {
    throw new TypeError(`${type.name}.snapshotEvery must be a whole number of events (0: never snapshot); got ${String(cls.snapshotEvery)}`);
  }
  const eventVersion = cls.eventVersion ?? 1;
  if (!Number.isSafeInteger(eventVersion) || eventVersion < 1) {
    throw new TypeError(`${type.name}.eventVersion must be a whole number >= 1 (raise it by one whenever an event's shape changes, and upcast the old shape); got ${String(cls.eventVersion)}`);
  }
  const journalStream = cls.journalStream;
  if (journalStream !== undefined && (typeof journalStream !== 'string' || journalStream === '' || journalStream.includes('/'))) {
    throw new TypeError(`${type.name}.journalStream must be a stream namespace: a non-empty string without "/"; got ${JSON.stringify(journalStream)}`);
  }
  if ((type.cls as { transactions?: unknown }).transactions !== undefined) {
    throw new TypeError(`${type.name} is a journaled grain and declares static transactions: journaled grains cannot take part in transactions `
      + `(their events are confirmed by confirmEvents(), not by a transaction's commit). Remove static transactions, or keep the transactional data in a plain grain's transactionalState`);
  }
  spec = { snapshotEvery, eventVersion, journalStream };
  specs.set(type, spec);
  return spec;
}
