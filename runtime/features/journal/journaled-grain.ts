/**
 * `JournaledGrain<State, Event>`: a grain whose state is the fold of its events (event
 * sourcing; Orleans' JournaledGrain). `apply(state, event)` is the only way the state changes;
 * `raiseEvent` applies at once and queues, `confirmEvents()` appends the queue atomically to
 * the grain's journal, conditional on `version`. See docs/journaled-grains.md.
 *
 * It is a framework base (it declares the grain brand itself): none of its members is ever
 * callable through a reference; the class built on it declares the callable methods.
 */
import type { Activation } from '../../activation.js';
import { InvalidArgumentError } from '../../errors.js';
import { GRAIN_BRAND, grainBrand } from '../../grain-brand.js';
import { Grain, runtimeOf } from '../../grain.js';
import type { TransactionalState } from '../transactions/state.js';
import { JOURNAL, type JournalState } from './journal-state.js';

declare module '../../ref.js' {
  interface FrameworkMemberNames {
    version: true;
    raiseEvent: true;
    raiseEvents: true;
    confirmEvents: true;
    retrieveConfirmedEvents: true;
  }
}

export abstract class JournaledGrain<State, Event> extends Grain<State> {
  /** Its own brand: `JournaledGrain` is a framework base, so its members are never callable. */
  static override readonly [GRAIN_BRAND] = grainBrand(import.meta.url);
  /**
   * Write a snapshot of the state every this many events (0: never); activation reads the
   * latest snapshot and replays only the events after it. Default 1,000.
   */
  static snapshotEvery = 1_000;
  /**
   * A stream namespace: every confirmed event is published there (key = grain key), for
   * projections (runtime/features/journal/projections.ts).
   */
  static journalStream: string | undefined = undefined;
  /**
   * The schema version of the events this code raises (default 1). Raise it by one when an
   * event's shape changes, and turn the older shapes into the new one in `upcast`.
   */
  static eventVersion = 1;

  /**
   * `state` (inherited) is the confirmed state with the raised, unconfirmed events applied.
   * The number of confirmed events: event `v` took the grain from version `v` to `v + 1`.
   */
  get version(): number {
    return journalOf(this).version;
  }

  /** Applies `event` to `state` now; it is persisted by the next `confirmEvents()`. */
  raiseEvent(event: Event): void {
    journalOf(this).raise([event]);
  }

  /** Applies `events` in order now; persisted together by the next `confirmEvents()`. */
  raiseEvents(events: readonly Event[]): void {
    if (!Array.isArray(events)) throw new InvalidArgumentError(`${this.id.type}/${this.id.key}: raiseEvents takes an array of events`);
    if (events.length > 0) journalOf(this).raise(events);
  }

  /**
   * Appends every raised event to the journal atomically (all or none), conditional on
   * `version`. A lost race rejects with `InconsistentStateError`; the grain has then reloaded
   * the stored truth, and the caller may retry.
   */
  confirmEvents(): Promise<void> {
    try {
      return journalOf(this).confirm();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The confirmed events `[from, to)`, in order (in the current event schema). */
  retrieveConfirmedEvents(from: number, to: number): Promise<Event[]> {
    try {
      return journalOf(this).retrieve(from, to) as Promise<Event[]>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The state change an event makes: mutate `state` in place, or return the new state. It
   * must be synchronous and deterministic (it runs again on every replay) and should check
   * nothing a caller could get wrong: check in the method, before `raiseEvent`. If it throws,
   * the grain goes back to its last confirmed state and the call rejects with the error.
   */
  protected abstract apply(state: State, event: Event): State | void;

  /**
   * Turns an event stored by code with an older `eventVersion` (`fromVersion`) into the
   * current shape. The default returns it unchanged.
   */
  protected upcast(event: unknown, _fromVersion: number): Event {
    return event as Event;
  }

  /** Journaled grains change state only through events. */
  override writeState(): Promise<void> {
    return Promise.reject(stateWriteRefused(this, 'writeState'));
  }

  /** Journaled grains change state only through events (a journal is never cleared). */
  override clearState(): Promise<void> {
    return Promise.reject(stateWriteRefused(this, 'clearState'));
  }

  /** Journaled grains do not take part in transactions (docs/journaled-grains.md). */
  override transactionalState<T>(name: string, _init: () => T): TransactionalState<T> {
    throw new InvalidArgumentError(`${this.id.type}/${this.id.key} is a journaled grain: it cannot declare transactionalState("${name}"), since journaled grains do not take part in transactions. `
      + 'Keep transactional data in a plain grain and have it call this one after the transaction commits', { code: 'transaction_not_allowed' });
  }
}

function stateWriteRefused(grain: Grain<unknown>, what: string): InvalidArgumentError {
  return new InvalidArgumentError(`${grain.id.type}/${grain.id.key} is a journaled grain: its state changes only through events; call raiseEvent(...) and confirmEvents() instead of ${what}()`);
}

function journalOf(grain: Grain<unknown>): JournalState {
  const j = (runtimeOf(grain) as Activation).component<JournalState>(JOURNAL);
  if (j === undefined) {
    throw new InvalidArgumentError(`${grain.id.type}/${grain.id.key}: the journal is loaded when the grain activates; use it from onActivate or a method, not from a field initialiser or the constructor`);
  }
  return j;
}
