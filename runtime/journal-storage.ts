/**
 * The journal port: what a storage provider offers journaled grains (event sourcing), beside
 * the state port (storage.ts). A grain's journal is an append-only sequence of events,
 * numbered from 0, stored as batches: one batch per `confirmEvents()`, appended atomically
 * (all of its events or none) and only if the journal still ends where the appender last
 * saw it, so two activations of one grain can never both append. Snapshots (the state at a
 * version) bound how much an activation replays; they are an optimisation only: the events
 * stay, and a missing or failed snapshot loses nothing.
 *
 * Events and snapshots are opaque text here (the wire codec's, encoded by the feature).
 */
import { InconsistentStateError, InvalidArgumentError } from './errors.js';
import type { GrainId } from './identity.js';

export interface JournalBatch {
  /** The version the journal had before this batch: its first event is number `from`. */
  from: number;
  /** The events, each the codec text of one event, in order (at least one). */
  events: string[];
  /** The event schema version (`static eventVersion`) of the code that raised them. */
  eventVersion: number;
  /**
   * The grain's call record as of this batch (`CallLog.text()`, runtime/call-log.ts): the ids
   * of the calls whose events it holds, and the outcomes of earlier calls. Stored in the same
   * atomic write as the events (so the record commits exactly when the effect does) and
   * returned by `load`; absent while the grain recorded no call.
   */
  calls?: string;
}

export interface JournalSnapshot {
  /** The number of events the snapshot's state includes (events `0 … version-1`). */
  version: number;
  /** The codec text of the state. */
  payload: string;
  /** The event schema version of the code that wrote it (an older one is not used: replay upcasts instead). */
  eventVersion: number;
  /** The call record as of `version` (the `calls` of the batch that ended there), returned by `load`. */
  calls?: string;
}

export interface LoadedJournal {
  /** The latest snapshot, if any. */
  snapshot: JournalSnapshot | undefined;
  /**
   * The batches after the snapshot (or from 0), in order and contiguous. The last one carries
   * the latest `calls` (a provider that regroups events may return it on the last batch only).
   */
  batches: JournalBatch[];
}

export interface JournalStorage {
  /**
   * The latest snapshot and the batches after it. `hint`: how many events the caller expects
   * at most after the latest snapshot (its snapshot interval), so a provider may size its read.
   */
  load(id: GrainId, hint?: number): Promise<LoadedJournal>;
  /** The batches holding events `[from, to)` (the first and last may hold more), in order; their `calls` may be left out. */
  readEvents(id: GrainId, from: number, to: number): Promise<JournalBatch[]>;
  /**
   * Appends `batch` atomically if the journal's version is still `batch.from`; rejects with
   * `InconsistentStateError` when it moved (another activation appended), and writes nothing.
   * `batch.from` is always a version the caller saw the journal at (the end of what it loaded
   * or appended): providers may rely on it, as DynamoDB's one conditional write per batch does.
   */
  append(id: GrainId, batch: JournalBatch): Promise<void>;
  /**
   * Stores a snapshot (not conditional: the state at a version is the same whoever writes it).
   * One at the version of the stored snapshot replaces it (its call record may be newer).
   */
  writeSnapshot(id: GrainId, snapshot: JournalSnapshot): Promise<void>;
}

/** The first event version `batches` do not cover (`start` when there are none). */
export function journalEnd(start: number, batches: readonly JournalBatch[]): number {
  const last = batches[batches.length - 1];
  return last === undefined ? start : last.from + last.events.length;
}

/** Refuses a batch no journal could hold (every provider checks the same). */
export function checkJournalBatch(id: GrainId, batch: JournalBatch): void {
  if (!Number.isSafeInteger(batch.from) || batch.from < 0 || batch.events.length === 0 || !(batch.eventVersion >= 1)) {
    throw new InvalidArgumentError(`cannot append to the journal of ${id.type}/${id.key}: a batch needs from >= 0, at least one event and eventVersion >= 1 (got from ${batch.from}, ${batch.events.length} events, eventVersion ${batch.eventVersion})`);
  }
}

/** The error of an append that lost the race: the journal is not at the version the appender saw. */
export function journalConflict(id: GrainId, stored: number | string, expected: number): InconsistentStateError {
  return new InconsistentStateError(
    `the journal of ${id.type}/${id.key} is at version ${stored}, not ${expected}: another activation appended events; the grain reloaded its journal, retry the call`,
    { data: { grain: `${id.type}/${id.key}`, stored, expected } },
  );
}
