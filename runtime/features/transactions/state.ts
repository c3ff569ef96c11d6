/**
 * `TransactionalState<T>`: state a grain changes only inside transactions. The value a
 * transaction sees and changes is locked for it in memory (readers or one writer) until the
 * transaction commits or aborts; the durable item is written when the transaction
 * prepares (its pending value) or, when it is the only change, commits in one phase.
 *
 * A committed pending value is applied in memory at once and folded into the item's next
 * write (lazy apply): the item plus the transaction record already say what is committed,
 * so applying it durably right away would be a write no reader needs.
 */
import { copy } from '../../codec.js';
import { InconsistentStateError } from '../../errors.js';
import type { TimerHandle } from '../../clock.js';
import { refusal } from './errors.js';
import { RECENT_COMMITS, decodeItem, encodeItem, readRecord, createRecord, stateItemName, type StateItem } from './records.js';
import type { Participant, PTxn } from './participant.js';
import { DEAD } from './host.js';
import { transactionDefaults } from './options.js';

/** How many records an item keeps the duty to collect (`d`); beyond, the oldest duty is dropped (that record stays). */
const COLLECT_LIMIT = 32;

/** State a grain changes atomically with other grains' (Orleans' `ITransactionalState`). */
export abstract class TransactionalState<T> {
  abstract readonly name: string;
  /** The value as this transaction sees it (a copy: changing it changes nothing). */
  abstract read(): Promise<T>;
  /** Replaces the value with `fn(current)` for this transaction; `fn` must be synchronous. */
  abstract update(fn: (value: T) => T): Promise<void>;

  /** Orleans' `PerformRead`: `fn` applied to the value this transaction sees. */
  async performRead<R>(fn: (value: T) => R): Promise<R> {
    return fn(await this.read());
  }

  /** Orleans' `PerformUpdate`: `fn` may change the value in place; its result is returned. */
  async performUpdate<R>(fn: (value: T) => R): Promise<R> {
    let result!: R;
    await this.update((v) => { result = fn(v); return v; });
    return result;
  }
}

interface Waiter {
  txn: PTxn;
  write: boolean;
  resolve(): void;
  reject(err: unknown): void;
  timer: TimerHandle;
}

/** A pending value found in storage whose transaction's outcome is not known yet. */
interface Recovered {
  txn: string;
  value: unknown;
  deadline: number;
}

export class TxState<T> extends TransactionalState<T> {
  // committed value, as this activation knows it (committed pending values applied)
  private value!: T;
  private version = 0;
  private recent: string[] = [];
  private etag: string | undefined = undefined;
  private loaded = false;
  private loading: Promise<void> | undefined = undefined;
  /** Serialises this item's writes, so each uses the ETag the one before got. */
  private writing: Promise<unknown> = Promise.resolve();
  /** The transaction whose pending value the stored item holds, as of its last load or write. */
  private storedPending: string | undefined = undefined;
  /** Records this item has the duty to collect (its stored `d`, less those collected since). */
  private toCollect: string[] = [];
  private foldTimer: TimerHandle | undefined = undefined;

  // locks
  writer: PTxn | undefined = undefined;
  readonly readers = new Set<PTxn>();
  private recovered: Recovered | undefined = undefined;
  private recoveryTimer: TimerHandle | undefined = undefined;
  private waiters: Waiter[] = [];
  /** The writer's new value, until it commits or aborts. */
  private working: { txn: PTxn; value: T } | undefined = undefined;

  constructor(readonly participant: Participant, readonly name: string, private readonly init: () => T) {
    super();
  }

  get itemName(): string {
    return stateItemName(this.name);
  }

  // ---- the grain's API ----------------------------------------------------------

  async read(): Promise<T> {
    const t = await this.participant.enter(this, false);
    if (t.status !== 'active') throw refusal(t.id, t.reason ?? `it ended at ${this.participant.act.key} while this call waited`);
    const v = this.working?.txn === t ? this.working.value : this.value;
    return this.copy(v);
  }

  async update(fn: (value: T) => T): Promise<void> {
    if (typeof fn !== 'function') throw new TypeError(`${this.describe()}.update takes a function (value => newValue)`);
    const t = await this.participant.enter(this, true);
    if (t.status !== 'active') throw refusal(t.id, t.reason ?? `it ended at ${this.participant.act.key} while this call waited`);
    const base = this.working?.txn === t ? this.working.value : this.value;
    const next = fn(this.copy(base));
    if (next instanceof Promise) throw new TypeError(`${this.describe()}.update: the function must be synchronous and return the new value`);
    this.working = { txn: t, value: next };
    t.writes.add(this);
    this.participant.wrote(t);
  }

  describe(): string {
    return `transactional state "${this.name}" of ${this.participant.act.key}`;
  }

  private copy(v: T): T {
    return copy(v, { ref: (type, key) => this.participant.act.host.ref(type, key) });
  }

  // ---- loading and recovery -----------------------------------------------------

  /** Loads the item once; a pending value found there is resolved through its record. */
  ensureLoaded(): Promise<void> | undefined {
    if (this.loaded) return undefined;
    return (this.loading ??= this.load().finally(() => { this.loading = undefined; }));
  }

  private async load(): Promise<void> {
    const act = this.participant.act;
    const stored = await act.host.storage.read(act.id, this.itemName);
    let pending: Recovered | undefined;
    if (stored?.payload === undefined) {
      this.value = this.init();
      this.version = 0;
      this.recent = [];
      this.storedPending = undefined;
      this.toCollect = [];
    } else {
      const item = decodeItem(stored.payload, { ref: (t, k) => act.host.ref(t, k) }, this.describe());
      this.value = item.v as T;
      this.version = item.n;
      this.recent = item.r ?? [];
      if (item.p !== undefined) pending = { txn: item.p.t, value: item.p.v, deadline: item.p.dl };
      this.storedPending = item.p?.t;
      this.toCollect = Array.isArray(item.d) ? item.d.filter((x) => typeof x === 'string') : [];
    }
    this.etag = stored?.etag;
    this.loaded = true;
    // A pending value this participant already knows the outcome of is no pending value.
    const known = pending === undefined ? undefined : this.participant.knownOutcome(pending.txn);
    if (known !== undefined) {
      if (known === 'committed') this.applyValue(pending!.value as T);
      pending = undefined;
    }
    if (this.recovered?.txn !== pending?.txn) {
      this.recoveryTimer?.cancel();
      this.recoveryTimer = undefined;
      this.recovered = pending;
      if (pending === undefined) this.wake();
    }
    if (this.recovered !== undefined) {
      await this.recover().catch((err) => {
        // The record could not be read: keep the item locked and try again later.
        this.participant.report('recovery', err);
        this.retryRecovery();
      });
    }
    this.afterStored();
  }

  private retryRecovery(): void {
    const p = this.participant;
    this.recoveryTimer?.cancel();
    this.recoveryTimer = p.act.host.clock.setTimer(() => {
      this.recoveryTimer = undefined;
      this.recover().catch((err) => { p.report('recovery', err); this.retryRecovery(); });
    }, p.recoveryGraceMs());
  }

  /**
   * Resolves a pending value found in storage: committed → apply; aborted → drop; no record
   * and past its deadline (plus grace) → write `aborted` (create-only, so it races safely with
   * a late commit) and drop. Otherwise the pending value keeps the item locked (like a
   * prepared transaction) and is looked at again when its time is up or its outcome arrives.
   */
  async recover(): Promise<void> {
    const r = this.recovered;
    if (r === undefined) return;
    const p = this.participant;
    let outcome = p.knownOutcome(r.txn) ?? await readRecord(p.act.host.storage, r.txn);
    const graceEnd = r.deadline + p.recoveryGraceMs();
    if (outcome === undefined && p.act.host.clock.now() >= graceEnd && p.act.status !== DEAD) {
      outcome = await createRecord(p.act.host.storage, r.txn, 'aborted', p.act.host.clock.now());
    }
    if (this.recovered !== r) return;
    if (outcome !== undefined) {
      this.resolveRecovered(r.txn, outcome);
      return;
    }
    this.recoveryTimer?.cancel();
    this.recoveryTimer = p.act.host.clock.setTimer(() => {
      this.recoveryTimer = undefined;
      this.recover().catch((err) => { p.report('recovery', err); this.retryRecovery(); });
    }, Math.max(1, graceEnd - p.act.host.clock.now()));
  }

  /** The outcome of a transaction whose pending value was found in storage. */
  resolveRecovered(txnId: string, outcome: 'committed' | 'aborted'): boolean {
    const r = this.recovered;
    if (r === undefined || r.txn !== txnId) return false;
    this.recovered = undefined;
    this.recoveryTimer?.cancel();
    this.recoveryTimer = undefined;
    this.participant.noteOutcome(txnId, outcome);
    if (outcome === 'committed') this.applyValue(r.value as T);
    this.wake();
    return true;
  }

  /** Whether the stored item holds a pending value of `txnId` (as of this activation's last load or write). */
  holdsPendingOf(txnId: string): boolean {
    return this.loaded && this.storedPending === txnId;
  }

  get recoveredTxn(): string | undefined {
    return this.recovered?.txn;
  }

  // ---- locks ---------------------------------------------------------------------

  /**
   * Takes the read or write lock for `t`. A lock held by a transaction that is still running
   * is a conflict: `t` aborts at once rather than wait (a running transaction may need this
   * very activation's turn to finish, so waiting could deadlock through the mailbox). A lock
   * held by a prepared transaction (or a pending value being recovered) is waited for, up to
   * `t`'s lock-wait bound: it needs nothing but protocol messages to finish.
   */
  acquire(t: PTxn, write: boolean): Promise<void> | undefined {
    const blocker = this.blocker(t, write);
    if (blocker === undefined) {
      this.grant(t, write);
      return undefined;
    }
    if (blocker.running) throw this.conflict(t, blocker.txn);
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        txn: t, write, resolve, reject,
        timer: this.participant.act.host.clock.setTimer(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(refusal(t.id, `waited ${t.lockWaitMs} ms for the lock on ${this.describe()}, held by prepared transaction ${blocker.txn}; gave up (lock-wait bound)`, 'transaction_lock_timeout'));
        }, t.lockWaitMs),
      };
      this.waiters.push(w);
    });
  }

  private blocker(t: PTxn, write: boolean): { txn: string; running: boolean } | undefined {
    if (this.recovered !== undefined) return { txn: this.recovered.txn, running: false };
    if (this.writer !== undefined && this.writer !== t) return { txn: this.writer.id, running: this.writer.status === 'active' };
    if (write) for (const r of this.readers) if (r !== t) return { txn: r.id, running: r.status === 'active' };
    return undefined;
  }

  private grant(t: PTxn, write: boolean): void {
    if (write) {
      this.writer = t;
      this.readers.delete(t);
    } else if (this.writer !== t) {
      this.readers.add(t);
    }
    t.locked.add(this);
  }

  private conflict(t: PTxn, holder: string): Error {
    return refusal(t.id, `${this.describe()} is locked by transaction ${holder}, which is still running (conflicting transactions do not wait for each other; retry)`);
  }

  /** Drops `t`'s locks (and its new value, unless it was applied) and lets waiters in. */
  release(t: PTxn): void {
    if (this.writer === t) this.writer = undefined;
    this.readers.delete(t);
    if (this.working?.txn === t) this.working = undefined;
    this.wake();
  }

  /** Rejects `t`'s own waits (it aborted while a turn of it waited here) with `err()` (made only when one waits). */
  cancelWaits(t: PTxn, err: () => unknown): void {
    const mine = this.waiters.filter((w) => w.txn === t);
    if (mine.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.txn !== t);
    const e = err();
    for (const w of mine) { w.timer.cancel(); w.reject(e); }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      if (w.txn.status !== 'active') { w.timer.cancel(); continue; }
      const b = this.blocker(w.txn, w.write);
      if (b === undefined) {
        w.timer.cancel();
        this.grant(w.txn, w.write);
        w.resolve();
      } else if (b.running) {
        w.timer.cancel();
        w.reject(this.conflict(w.txn, b.txn));
      } else {
        this.waiters.push(w);
      }
    }
  }

  // ---- commit protocol ------------------------------------------------------------

  hasWrite(t: PTxn): boolean {
    return this.working?.txn === t;
  }

  /** Prepare: the item gets `t`'s new value as its pending value (the durable lock). */
  writePending(t: PTxn): Promise<void> {
    const w = this.working;
    if (w === undefined || w.txn !== t) return Promise.resolve();
    return this.write({ v: this.value, n: this.version, r: this.recentOrUndefined(), p: { t: t.id, v: w.value, dl: t.deadline } });
  }

  /** One-phase commit: `t`'s new value becomes the committed value in a single write. */
  writeCommitted(t: PTxn): Promise<void> {
    const w = this.working;
    if (w === undefined || w.txn !== t) return Promise.resolve();
    const recent = [...this.recent, t.id].slice(-RECENT_COMMITS);
    return this.write({ v: w.value, n: this.version + 1, r: recent });
  }

  /** Rewrites the item as it is, so a write still in flight with an older ETag can never land. */
  fence(): Promise<void> {
    const item: StateItem = { v: this.value, n: this.version, r: this.recentOrUndefined() };
    if (this.recovered !== undefined) item.p = { t: this.recovered.txn, v: this.recovered.value, dl: this.recovered.deadline };
    return this.write(item);
  }

  /** Whether a commit of `txnId` is in this item's memory of recent commits (one-phase, or two-phase folded in). */
  committedOnePhase(txnId: string): boolean {
    return this.recent.includes(txnId);
  }

  /** Applies `t`'s new value in memory (its durable form is the pending value plus the record). */
  apply(t: PTxn): void {
    const w = this.working;
    if (w !== undefined && w.txn === t) this.applyValue(w.value);
  }

  private applyValue(v: T): void {
    this.value = v;
    this.version++;
  }

  /**
   * Whether the stored item is still the version this activation loaded or last wrote (one
   * read). A write of this item in flight is waited for, and a check that raced one of this
   * activation's own writes is made again.
   */
  async isCurrent(): Promise<boolean> {
    if (!this.loaded) return false;
    const act = this.participant.act;
    for (let attempt = 0; ; attempt++) {
      await this.settled();
      const mine = this.etag;
      const stored = await act.host.storage.read(act.id, this.itemName);
      if (stored?.etag === this.etag) return true;
      if (this.etag === mine || attempt >= 2) return false;
    }
  }

  /** Forget everything in memory: the next access reloads the item (after a failed write). */
  invalidate(): void {
    this.loaded = false;
  }

  private recentOrUndefined(): string[] | undefined {
    return this.recent.length > 0 ? this.recent : undefined;
  }

  /**
   * Writes the item `build` gives (built when the write's turn comes, after the writes queued
   * before it; undefined: nothing to write any more).
   */
  private write(build: StateItem | (() => StateItem | undefined)): Promise<void> {
    const act = this.participant.act;
    const run = async () => {
      if (act.status === DEAD) throw new Error(`${act.key} is no longer active (its silo stopped)`);
      const item = typeof build === 'function' ? build() : build;
      if (item === undefined) return;
      this.carryDuties(item);
      const payload = encodeItem(item);
      try {
        this.etag = await act.host.storage.write(act.id, this.itemName, payload, this.etag);
      } catch (err) {
        // The stored item moved, or may have: reload it before its next use.
        this.invalidate();
        this.participant.invalidated(this as TxState<unknown>, `${this.describe()} could not be written: ${(err as Error).message}`);
        throw err;
      }
      this.storedPending = item.p?.t;
      this.toCollect = item.d ?? [];
      this.recent = item.r ?? [];
      this.afterStored();
    };
    const p = this.writing.then(run, run);
    this.writing = p.catch(() => undefined);
    return p;
  }

  /** Resolves once the writes queued so far are done. */
  settled(): Promise<unknown> {
    return this.writing;
  }

  // ---- record retention (retention.ts) --------------------------------------------

  /**
   * A write that drops the stored pending value of a settled transaction takes on the duty to
   * collect its record (`d`, in the same write, so a crash cannot lose it), and a committed one
   * joins the item's recent commits (`r`: the outcome stays known after the record is gone).
   */
  private carryDuties(item: StateItem): void {
    const dropped = this.storedPending !== undefined && this.storedPending !== item.p?.t ? this.storedPending : undefined;
    if (dropped !== undefined && this.participant.knownOutcome(dropped) === 'committed' && !(item.r ?? []).includes(dropped)) {
      item.r = [...(item.r ?? []), dropped].slice(-RECENT_COMMITS);
    }
    if (this.participant.act.host.storage.delete === undefined) return; // records are kept: no duty
    let d = this.toCollect;
    if (dropped !== undefined && !d.includes(dropped)) d = [...d, dropped];
    if (d.length > COLLECT_LIMIT) {
      this.participant.report('record collection', new Error(`${this.describe()} has ${d.length} transaction records to collect; the oldest are left in storage`));
      d = d.slice(-COLLECT_LIMIT);
    }
    if (d.length > 0) item.d = d;
  }

  /** After a load or write: fold a settled pending value in later, collect the records this item owes. */
  private afterStored(): void {
    if (this.storedPending !== undefined && this.participant.act.host.storage.delete !== undefined) this.armFold();
    if (this.toCollect.length > 0) this.participant.collect(this as TxState<unknown>, [...this.toCollect]);
  }

  /** The record of `txnId` is dealt with: this item no longer owes it (stored so at its next write). */
  collected(txnId: string): void {
    this.toCollect = this.toCollect.filter((x) => x !== txnId);
  }

  private armFold(): void {
    if (this.foldTimer !== undefined) return;
    this.foldTimer = this.participant.act.host.clock.setTimer(() => {
      this.foldTimer = undefined;
      this.fold();
    }, transactionDefaults.foldAfterMs);
  }

  /** Whether the stored pending value belongs to a transaction settled here (applied or dropped in memory). */
  private pendingSettled(): boolean {
    const t = this.storedPending;
    return t !== undefined && this.loaded && this.recovered?.txn !== t && !this.participant.txns.has(t);
  }

  /**
   * No write came to fold the settled pending value in: write the item without it (one
   * write), so its transaction record can go. Idle items only; a busy one folds for free.
   */
  private fold(): void {
    const act = this.participant.act;
    if (act.status === DEAD || this.storedPending === undefined) return;
    if (!this.pendingSettled()) {
      if (this.loaded) this.armFold();
      return;
    }
    this.write(() => (this.pendingSettled() ? { v: this.value, n: this.version, r: this.recentOrUndefined() } : undefined))
      .catch((err) => { if (act.status !== DEAD) this.participant.report('fold', err); });
  }
}
