/**
 * A journaled grain's journal as one activation sees it (an activation component): the
 * confirmed state and version, the events raised but not confirmed yet, and the appends in
 * flight. The grain's `state` is always the confirmed state with the in-flight and pending
 * events applied (the tentative state).
 *
 * Appends go one after another (interleaved turns share the activation): each takes every
 * event pending when it starts. A failed append drops every unconfirmed event and reloads the
 * stored truth; a turn whose events were dropped sees its `confirmEvents()` reject.
 *
 * Exactly-once (runtime/call-log.ts, docs/exactly-once.md): each batch carries the grain's
 * call record, with the ids of the calls waiting on its append, in the same atomic write as
 * the events. A call re-sent after its silo died finds its id there: answered from the
 * record when its outcome was stored, else replayed from the state before it, its confirms
 * that committed skipped (their events dropped, not appended again). A call whose turn ended
 * with events of its own still unconfirmed (raised, then it returned or threw without
 * confirming) is recorded, with its outcome, in the batch that appends those events: a
 * re-send is answered, not run again to raise them twice.
 */
import type { Activation, ActivationComponent } from '../../activation.js';
import { CallLog, type RecordedOutcome, type TurnIds } from '../../call-log.js';
import { copy, decode, encode, type DecodeOptions } from '../../codec.js';
import { currentScope } from '../../context.js';
import { GrainError, InconsistentStateError, InvalidArgumentError } from '../../errors.js';
import { initialStateOf, type Grain } from '../../grain.js';
import type { JournalBatch, JournalStorage } from '../../journal-storage.js';
import { TXN } from '../transactions/txn-context.js';
import { journalTestHooks } from './hooks.js';
import { hasJournalPublishers, publishConfirmed, type PublishedEvent } from './projections.js';
import type { JournalSpec } from './spec.js';

/** The component key journals live under (`Activation.component`). */
export const JOURNAL: object = { name: 'granary.journal' };

/** The protected members of `JournaledGrain` the journal calls (they are protected on purpose). */
interface JournalHooks {
  apply(state: unknown, event: unknown): unknown;
  upcast(event: unknown, fromVersion: number): unknown;
}

/** What one turn raised: settled when its events are confirmed or dropped. */
interface Ticket {
  /** The count of the turn's last event (`raised` after it). */
  through: number;
  /** Set when its events were dropped: what the turn's `confirmEvents()` rejects with. */
  dropped?: { error: unknown };
  /** The ids of the call whose turn raised them (none: a timer, activation, a call without an id). */
  readonly turn: TurnIds | undefined;
  /**
   * The turn called `confirmEvents()` and waits on it: the batch holding these events is
   * recorded under its id, open, and the turn's end completes the entry. A turn that ended
   * before the batch holding its events was built is recorded with its outcome instead
   * (`recordFor`); one that raised, has not confirmed and still runs is not recorded (an
   * open entry might never be completed: its turn may end while the batch is in flight).
   */
  confirming: boolean;
  /** The turn ended: its outcome, as it answered (see `captureEnded`). */
  outcome?: RecordedOutcome;
}

/** The ticket key of code that runs outside any call scope. */
const NO_SCOPE = {};

export class JournalState implements ActivationComponent {
  /** Number of confirmed events. */
  version = 0;
  /** The confirmed state (the grain's `state` is a separate copy with unconfirmed events applied). */
  private confirmed: unknown;
  /** Codec texts of raised events not yet taken by an append. */
  private pending: string[] = [];
  /** Codec texts of the append in flight (already applied to the grain's state). */
  private inflight: string[] = [];
  /** Events raised so far, counted (a ticket names the last event its turn raised). */
  private raised = 0;
  /** The latest ticket of each turn (by its call scope), and the tickets not settled yet. */
  private tickets = new WeakMap<object, Ticket>();
  private open = new Set<Ticket>();
  /** The version of the latest snapshot known to be stored. */
  private snapshotVersion = 0;
  /** A failed storage call left this activation unsure of the stored truth: reload before the next call. */
  stale = false;
  /** Appends and reloads, one after another. */
  private chain: Promise<void> = Promise.resolve();
  private readonly decodeOptions: DecodeOptions;
  /** Replaying turns that raised events since their last confirm (a replay's confirm skips a committed batch only then). */
  private replayRaised = new WeakSet<TurnIds>();

  constructor(private readonly act: Activation, private readonly spec: JournalSpec) {
    this.decodeOptions = { ref: (t, k) => act.host.ref(t, k) };
  }

  private get grain(): Grain<unknown> & JournalHooks {
    return this.act.grain as unknown as Grain<unknown> & JournalHooks;
  }

  private get journal(): JournalStorage {
    const j = this.act.host.storage.journal;
    if (j === undefined) {
      throw new GrainError('configuration_error', `${this.act.type.name} is a journaled grain, but the storage "${this.act.host.storage.name}" keeps no journals; `
        + 'host it with memoryStorage(), dynamoStorage(...) or Durable Object storage');
    }
    return j;
  }

  // ---- loading -------------------------------------------------------------------

  /** Loads the latest snapshot and replays the events after it (activation, `readState()`). */
  load(): Promise<void> {
    return this.serial(() => this.loadNow());
  }

  private async loadNow(): Promise<void> {
    const journal = this.journal;
    const loaded = await journal.load(this.act.id, this.spec.snapshotEvery > 0 ? this.spec.snapshotEvery : undefined);
    let state: unknown;
    let version: number;
    let batches = loaded.batches;
    const snap = loaded.snapshot;
    if (snap !== undefined && snap.eventVersion === this.spec.eventVersion) {
      state = decode(snap.payload, this.decodeOptions);
      version = snap.version;
    } else {
      // No snapshot, or one written by code with another event schema (its state may have
      // another shape): replay from the first event, upcasting.
      if (snap !== undefined) batches = [...(await journal.readEvents(this.act.id, 0, snap.version)), ...batches];
      state = initialStateOf(this.grain);
      version = 0;
    }
    for (const batch of batches) {
      for (let i = 0; i < batch.events.length; i++) {
        const n = batch.from + i;
        if (n < version) continue;
        if (n > version) throw this.broken(`event ${version} is missing (the next stored one is ${n})`);
        state = this.applyReplayed(state, this.eventOf(batch.events[i]!, batch.eventVersion, n), n);
        version++;
      }
    }
    this.confirmed = state;
    this.version = version;
    this.snapshotVersion = snap !== undefined && snap.eventVersion === this.spec.eventVersion ? snap.version : 0;
    this.loadCallRecord(latestCalls(loaded.batches) ?? snap?.calls);
    this.dropTickets(undefined);
    this.grain.state = copy(state, this.decodeOptions);
    this.stale = false;
  }

  /**
   * The stored call record becomes the activation's (a reload replaces it: the stored one is
   * the truth), and while there is one, `storedState` is the confirmed state's text: what a
   * replay returns to (runtime/activation.ts).
   */
  private loadCallRecord(calls: string | undefined): void {
    let log: CallLog | null = null;
    if (calls !== undefined) {
      try {
        log = CallLog.parse(calls);
      } catch (err) {
        throw this.broken(`its call record cannot be read (${(err as Error).message})`);
      }
    }
    this.act.callLog = log;
    this.act.storedState = log !== null ? this.confirmedText() : null;
  }

  /** The confirmed state's codec text (null at version 0: nothing stored, the initial state). */
  private confirmedText(): string | null {
    return this.version === 0 ? null : encode(this.confirmed);
  }

  /** The ids of the running call whose turn is running this code, if it has them. */
  private turnOf(): TurnIds | undefined {
    const scope = currentScope();
    return scope !== undefined && scope.grain === this.act.key ? scope.turn : undefined;
  }

  private applyReplayed(state: unknown, event: unknown, n: number): unknown {
    try {
      return this.applyOne(state, event);
    } catch (err) {
      throw new GrainError('journal_replay_failed', `${this.act.key}: apply threw on event ${n} while replaying its journal: ${(err as Error)?.message ?? String(err)}; `
        + 'fix apply (or upcast the event\'s old shape) and call again', { cause: err, data: { grain: this.act.key, event: n } });
    }
  }

  /** The event in the current schema: decoded, and upcast when an older schema wrote it. */
  private eventOf(text: string, eventVersion: number, n: number): unknown {
    const event = decode(text, this.decodeOptions);
    if (eventVersion === this.spec.eventVersion) return event;
    if (eventVersion > this.spec.eventVersion) {
      throw new GrainError('configuration_error', `${this.act.key}: event ${n} was written with eventVersion ${eventVersion}, but this code knows eventVersion ${this.spec.eventVersion}: `
        + 'newer code wrote this journal; deploy it everywhere before hosting the grain here');
    }
    return this.grain.upcast(event, eventVersion);
  }

  private broken(what: string): GrainError {
    return new GrainError('storage_error', `the journal of ${this.act.key} is broken: ${what}; it was not written by granary, or was changed by hand`);
  }

  // ---- raising ---------------------------------------------------------------------

  /** Applies `events` to the grain's state now and queues them for the next confirm. */
  raise(events: readonly unknown[]): void {
    this.refuseInTransaction('raise events');
    // Encode every event before anything changes: one that cannot be encoded is refused whole.
    const texts = events.map((e, i) => {
      try {
        return encode(e);
      } catch (err) {
        throw new InvalidArgumentError(`${this.act.key}: event${events.length > 1 ? ` ${i} of the batch` : ''} cannot be encoded (${(err as Error).message}); nothing was raised or written`, { cause: err });
      }
    });
    this.captureEnded();
    let state = this.grain.state;
    try {
      // The decoded copy, as a replay will see it: the tentative state is what a reload gives.
      for (const t of texts) state = this.applyOne(state, decode(t, this.decodeOptions));
    } catch (err) {
      this.dropUnconfirmed(err);
      throw err;
    }
    this.grain.state = state;
    const turn = this.turnOf();
    if (turn !== undefined && turn.skipWrites > 0) {
      // A replay: the call's first run appended these events (its next confirm skips them).
      this.replayRaised.add(turn);
      return;
    }
    this.pending.push(...texts);
    this.raised += texts.length;
    const key = currentScope() ?? NO_SCOPE;
    let ticket = this.tickets.get(key);
    if (ticket === undefined || !this.open.has(ticket)) this.tickets.set(key, ticket = { through: 0, turn, confirming: false });
    ticket.through = this.raised;
    this.open.add(ticket);
  }

  private applyOne(state: unknown, event: unknown): unknown {
    const out = this.grain.apply(state, event);
    if (out !== undefined && typeof (out as { then?: unknown }).then === 'function') {
      throw new TypeError(`${this.act.type.name}.apply returned a promise: apply must be synchronous (it runs on every replay)`);
    }
    return out === undefined ? state : out;
  }

  /**
   * Forgets the pending events (an apply threw, an append failed, a reload): the grain's
   * state goes back to the confirmed state plus the append in flight, if any.
   */
  private dropUnconfirmed(err: unknown): void {
    this.dropTickets(err);
    let state = copy(this.confirmed, this.decodeOptions);
    for (const t of this.inflight) state = this.applyOne(state, decode(t, this.decodeOptions));
    this.grain.state = state;
  }

  /** Forgets the pending events: every open ticket's events are pending or in the failed append, so all are gone. */
  private dropTickets(err: unknown): void {
    this.pending = [];
    for (const t of this.open) t.dropped = { error: err };
    this.open.clear();
  }

  // ---- confirming ------------------------------------------------------------------

  /** Appends every raised event; resolves when all events raised before the call are confirmed. */
  async confirm(): Promise<void> {
    this.refuseInTransaction('confirm events');
    const turn = this.turnOf();
    if (turn !== undefined && turn.skipWrites > 0) {
      this.skipReplayed(turn);
      return;
    }
    const ticket = this.tickets.get(currentScope() ?? NO_SCOPE);
    if (ticket !== undefined) ticket.confirming = true;
    if (ticket?.dropped === undefined && this.pending.length === 0 && this.inflight.length === 0) return;
    await this.serial(() => this.appendPending());
    if (ticket?.dropped !== undefined) {
      throw ticket.dropped.error ?? new InconsistentStateError(`${this.act.key}: events raised by this call were discarded before they were confirmed (the journal was reloaded); retry the call`);
    }
  }

  /**
   * A replay's confirm: the batch of the events it raised since its last confirm committed on
   * the call's first run, so it is not appended again. After the last skipped one the grain's
   * state is the stored truth again (with any other turn's unconfirmed events on top).
   */
  private skipReplayed(turn: TurnIds): void {
    // No events raised since the last confirm: the first run appended nothing here either.
    if (!this.replayRaised.delete(turn)) return;
    if (--turn.skipWrites > 0) return;
    let state = copy(this.confirmed, this.decodeOptions);
    for (const t of this.inflight) state = this.applyOne(state, decode(t, this.decodeOptions));
    for (const t of this.pending) state = this.applyOne(state, decode(t, this.decodeOptions));
    this.grain.state = state;
  }

  private async appendPending(): Promise<void> {
    if (this.stale) await this.loadNow();
    if (this.pending.length === 0) return;
    const texts = this.pending;
    const through = this.raised;
    this.pending = [];
    this.inflight = texts;
    const batch: JournalBatch = { from: this.version, events: texts, eventVersion: this.spec.eventVersion };
    const record = this.recordFor(batch);
    try {
      await this.journal.append(this.act.id, batch);
    } catch (err) {
      this.inflight = [];
      this.dropUnconfirmed(err);
      // Lost the race: take the stored truth now, so the caller's retry starts from it. Any
      // other failure (the outcome may be unknown): reload before the next call.
      this.stale = true;
      // The append may have landed (its answer lost): it may have gone past the calls whose
      // silo died after they wrote, and their re-sends must not be replayed from this stale
      // record before the reload (a replay would answer with a later version).
      this.act.callLog?.markOvertaken();
      if (err instanceof InconsistentStateError) await this.loadNow().catch(() => undefined);
      throw err;
    }
    this.inflight = [];
    let state = this.confirmed;
    for (let i = 0; i < texts.length; i++) state = this.applyOne(state, decode(texts[i]!, this.decodeOptions));
    this.confirmed = state;
    this.version += texts.length;
    record?.committed();
    for (const t of this.open) if (t.through <= through) this.open.delete(t);
    await this.publish(batch);
    await this.maybeSnapshot(batch.calls);
  }

  /**
   * Puts the call record in `batch`: the ids of the calls waiting on this append, each with
   * the confirmed state before it (what its replay starts from), and the calls whose turns
   * ended with events of theirs in this batch, with their outcomes (in the same atomic write as
   * the events, so a re-send finds the outcome exactly when the events committed). The
   * activation's record takes them only once the append committed (a refused append recorded
   * nothing, and its events are dropped with their tickets); undefined while there is no
   * record to store.
   */
  private recordFor(batch: JournalBatch): { committed(): void } | undefined {
    const log = this.act.callLog;
    const ids: string[] = [];
    const ended = new Map<string, RecordedOutcome>();
    for (const t of this.open) {
      if (t.turn === undefined) continue;
      const id = t.turn.id;
      if (ids.includes(id) || ended.has(id)) continue;
      const outcome = t.outcome ?? this.act.endedOutcome(id);
      if (outcome !== undefined) {
        // Never twice in the record (a second entry would make it unreadable): one the
        // record holds already (a reload brought it) is carried by its text.
        if (log?.has(id) !== true) ended.set(id, outcome);
      } else if (t.confirming) {
        ids.push(id);
      }
    }
    if (ids.length === 0 && ended.size === 0) {
      if (log !== null) {
        log.markOvertaken(); // events of no call (a timer's, a reminder's) go past open ones too
        batch.calls = log.text();
      }
      return log !== null ? { committed: () => { this.act.storedState = encode(this.confirmed); } } : undefined;
    }
    const prev = log !== null ? this.act.storedState : this.confirmedText();
    // A copy takes the writes: the activation's record must not say this batch committed before it has.
    const draft = log === null ? new CallLog() : CallLog.parse(log.text());
    for (const id of ids) draft.writing(id, prev);
    for (const [id, outcome] of ended) {
      draft.writing(id, prev);
      draft.complete(id, outcome);
    }
    batch.calls = draft.text();
    return {
      committed: () => {
        const live = (this.act.callLog ??= new CallLog());
        for (const id of ids) {
          // Recorded by storage (a reload) while its turn runs here: it is live again.
          if (live.replayOf(id) !== undefined) live.resume(id);
          live.writing(id, prev);
        }
        for (const [id, outcome] of ended) {
          if (live.has(id)) continue;
          live.writing(id, prev);
          live.complete(id, outcome);
        }
        this.act.storedState = encode(this.confirmed);
      },
    };
  }

  /**
   * Fixes the outcome of every turn that ended with events still unconfirmed, as it is now,
   * before a raise changes the grain's state in place: a method may answer with part of its
   * tentative state (`return this.state.items`), and its record must keep what it answered,
   * not what later events made of that object.
   */
  private captureEnded(): void {
    for (const t of this.open) {
      if (t.turn === undefined || t.outcome !== undefined) continue;
      const outcome = this.act.endedOutcome(t.turn.id);
      if (outcome === undefined) continue;
      if (!outcome.ok) {
        t.outcome = outcome;
        continue;
      }
      try {
        // Through the codec as the record stores it (runtime/call-log.ts: an envelope level).
        t.outcome = { ok: true, value: decode(encode(outcome.value, 1), this.decodeOptions, 1) };
      } catch {
        // It cannot be encoded: the record says so when it completes the call (as for any call).
        t.outcome = outcome;
      }
    }
  }

  private async publish(batch: JournalBatch): Promise<void> {
    const namespace = this.spec.journalStream;
    if (namespace === undefined || !hasJournalPublishers()) return;
    const events: PublishedEvent[] = batch.events.map((t, i) => ({ version: batch.from + i, event: decode(t, this.decodeOptions) }));
    const errors = await publishConfirmed({ namespace, key: this.act.id.key, grain: this.act.id, source: this.act.grain, events });
    for (const err of errors) this.act.host.reportError(this.act, `journal publish to "${namespace}"`, err);
  }

  /** Writes a snapshot when `snapshotEvery` events passed since the last; a failure loses nothing (the events stay). */
  private async maybeSnapshot(calls: string | undefined): Promise<void> {
    const every = this.spec.snapshotEvery;
    if (every === 0 || this.version - this.snapshotVersion < every) return;
    const version = this.version;
    try {
      await journalTestHooks.beforeSnapshot?.(this.act.key, version);
      // The state text is the stored state's when a call record keeps it current.
      const payload = calls !== undefined && this.act.storedState !== null ? this.act.storedState : encode(this.confirmed);
      await this.journal.writeSnapshot(this.act.id, { version, payload, eventVersion: this.spec.eventVersion, ...(calls !== undefined ? { calls } : {}) });
      this.snapshotVersion = version;
    } catch (err) {
      this.act.host.reportError(this.act, 'journal snapshot', err);
    }
  }

  /**
   * Stores the call record with no new events: a call whose record cannot replay it (the
   * state before it was over REPLAY_STATE_LIMIT) has its outcome stored before it is answered
   * (runtime/activation.ts, `writeRecord`). A batch needs events, so the record goes into a
   * snapshot at the current version, which a load reads when no batch follows it (one that
   * follows carries a newer record). Nothing to store before anything was appended.
   */
  storeCallRecord(): Promise<void> {
    return this.serial(async () => {
      const log = this.act.callLog;
      if (log === null || this.version === 0 || this.stale) return;
      const payload = this.act.storedState ?? encode(this.confirmed);
      await this.journal.writeSnapshot(this.act.id, { version: this.version, payload, eventVersion: this.spec.eventVersion, calls: log.text() });
      this.snapshotVersion = this.version;
    });
  }

  // ---- reading ---------------------------------------------------------------------

  /** Confirmed events `[from, to)`, in the current schema. */
  async retrieve(from: number, to: number): Promise<unknown[]> {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from || to > this.version) {
      throw new InvalidArgumentError(`${this.act.key}: retrieveConfirmedEvents(${from}, ${to}) needs whole numbers 0 <= from <= to <= version (${this.version})`);
    }
    if (from === to) return [];
    const out: unknown[] = [];
    for (const batch of await this.journal.readEvents(this.act.id, from, to)) {
      for (let i = 0; i < batch.events.length; i++) {
        const n = batch.from + i;
        if (n < from || n >= to) continue;
        if (n !== from + out.length) throw this.broken(`event ${from + out.length} is missing`);
        out.push(this.eventOf(batch.events[i]!, batch.eventVersion, n));
      }
    }
    if (out.length !== to - from) throw this.broken(`events ${from + out.length} to ${to - 1} are missing`);
    return out;
  }

  // ---- lifecycle -------------------------------------------------------------------

  /** Deactivation waits for the append in flight (and its snapshot). */
  async onDeactivate(): Promise<void> {
    await this.chain;
  }

  private serial(step: () => Promise<void>): Promise<void> {
    const p = this.chain.then(step);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private refuseInTransaction(what: string): void {
    if (currentScope()?.ext?.[TXN] != null) {
      throw new InvalidArgumentError(`${this.act.key} cannot ${what} inside a transaction: journaled grains do not take part in transactions `
        + '(a transaction could abort after the events were appended). Call it outside the transaction, e.g. after it commits, or keep this data in a plain grain\'s transactionalState',
      { code: 'transaction_not_allowed' });
    }
  }
}

/** The call record of the last batch that has one. */
function latestCalls(batches: readonly JournalBatch[]): string | undefined {
  for (let i = batches.length - 1; i >= 0; i--) {
    const calls = batches[i]!.calls;
    if (calls !== undefined) return calls;
  }
  return undefined;
}
