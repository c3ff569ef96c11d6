/**
 * The storage port. A provider keeps one opaque payload (the codec's text) per grain and
 * state name, versioned by an ETag: every write and clear is conditional on the ETag the
 * caller last saw, so two activations of one grain can never both commit.
 */
import type { GrainId } from './identity.js';
import type { JournalStorage } from './journal-storage.js';
import type { ReminderStore } from './reminder-storage.js';
import type { StreamProvider } from './stream-storage.js';

export interface StoredState {
  /** The codec text of the state; `undefined` when the state was cleared. */
  payload: string | undefined;
  /** The version to pass to the next conditional write. */
  etag: string;
}

export interface StorageProvider {
  /** A short name for logs and errors, e.g. `"memory"` or `"dynamodb:granary"`. */
  readonly name: string;
  /** The stored state, or `undefined` when nothing was ever written. */
  read(id: GrainId, stateName: string): Promise<StoredState | undefined>;
  /**
   * Writes `payload` if the stored version is still `etag` (`undefined`: nothing stored yet).
   * Resolves to the new ETag; rejects with `InconsistentStateError` when the version moved.
   */
  write(id: GrainId, stateName: string, payload: string, etag: string | undefined): Promise<string>;
  /**
   * Clears the state if the stored version is still `etag`, keeping a tombstone so versions
   * never repeat (no ABA). Resolves to the new ETag.
   */
  clear(id: GrainId, stateName: string, etag: string | undefined): Promise<string>;
  /**
   * Removes the state and its version entirely if the stored version is still `etag`
   * (another version: `InconsistentStateError`; nothing stored: resolves, it is gone
   * already — so a retried delete whose first attempt landed succeeds). Unlike `clear`, no
   * tombstone stays, so a later write from `undefined` starts the versions afresh: only for
   * items whose lifecycle rules out ABA — transaction records, which are only ever created
   * and then collected (docs/transactions.md, "Retention"). Optional: without it, such
   * items are kept.
   */
  delete?(id: GrainId, stateName: string, etag: string): Promise<void>;
  /** Releases connections; further calls fail. */
  close?(): Promise<void>;
  /** The journal port (journal-storage.ts), for journaled grains; absent: this provider keeps no journals. */
  readonly journal?: JournalStorage;
  /** Where durable reminders live, when this provider keeps them (runtime/reminder-storage.ts). */
  readonly reminders?: ReminderStore;
  /** Where streams live, when this provider keeps them (runtime/stream-storage.ts); `Silo.start({ streams })` overrides it. */
  readonly streams?: StreamProvider;
}

/** The state name a grain's `state` is stored under. */
export const DEFAULT_STATE_NAME = 'state';
