/**
 * One grain activation's side of the protocol: the transactions that touched its
 * transactional states, their locks, and its answers to protocol messages (prepare,
 * commit, abort, resolve). Messages are handled outside the mailbox, so a turn waiting for
 * a lock never holds up the commit that would release it.
 */
import { currentScope } from '../../context.js';
import { InvalidArgumentError } from '../../errors.js';
import type { TimerHandle } from '../../clock.js';
import { isRefusalCode, refusal, type RefusalCode } from './errors.js';
import { DEAD, type TxnActivation } from './host.js';
import { transactionDefaults } from './options.js';
import { createRecord, readRecord, type Outcome } from './records.js';
import { collectRecord } from './retention.js';
import { TxState } from './state.js';
import { txnOfScope, type TxnWire } from './txn-context.js';

export type PTxnStatus = 'active' | 'preparing' | 'prepared' | 'committing' | 'done';

/** A participant's vote on prepare: `ro` = read only here, released already. */
export interface Vote {
  vote: 'yes' | 'ro' | 'no';
  reason?: string;
  /** With `yes`: the items that got a pending value (their state item names), listed in the record. */
  items?: string[];
}

/** A transaction as one participant knows it. */
export class PTxn {
  status: PTxnStatus = 'active';
  /** States this transaction holds a lock on. */
  readonly locked = new Set<TxState<unknown>>();
  /** States it changed. */
  readonly writes = new Set<TxState<unknown>>();
  /** Asking the record about it (after its deadline). */
  resolving = false;
  /** Its prepare writes, while they are in flight. */
  preparing: Promise<unknown> | undefined = undefined;
  outcome: Outcome | undefined = undefined;
  reason: string | undefined = undefined;
  private waiting: (() => void)[] | undefined = undefined;

  constructor(readonly id: string, readonly deadline: number, readonly lockWaitMs: number) {}

  /** Resolves once it is committed or aborted here. */
  finished(): Promise<void> {
    if (this.status === 'done') return Promise.resolve();
    return new Promise((r) => (this.waiting ??= []).push(r));
  }

  markDone(outcome: Outcome, reason?: string): void {
    this.status = 'done';
    this.outcome = outcome;
    this.reason = reason;
    for (const r of this.waiting ?? []) r();
    this.waiting = undefined;
  }
}

/** How many finished transaction ids a participant remembers (to refuse late calls of them). */
const REMEMBERED = 4096;

export class Participant {
  readonly states = new Map<string, TxState<unknown>>();
  readonly txns = new Map<string, PTxn>();
  /** Outcomes of transactions that finished here; `released` = read only, outcome unknown. */
  private readonly outcomes = new Map<string, Outcome | 'released'>();

  constructor(readonly act: TxnActivation) {}

  register<T>(name: string, init: () => T): TxState<T> {
    if (typeof name !== 'string' || name.length === 0 || name.includes('#')) {
      throw new TypeError(`transactionalState needs a non-empty name without "#" (got ${JSON.stringify(name)})`);
    }
    if (typeof init !== 'function') throw new TypeError(`transactionalState("${name}", init): init must be a function returning the initial value`);
    if (this.states.has(name)) throw new TypeError(`${this.act.type.name} declares transactional state "${name}" twice`);
    const s = new TxState<T>(this, name, init);
    this.states.set(name, s as TxState<unknown>);
    return s;
  }

  knownOutcome(txnId: string): Outcome | undefined {
    const o = this.outcomes.get(txnId);
    return o === 'released' ? undefined : o;
  }

  recoveryGraceMs(): number {
    return transactionDefaults.recoveryGraceMs;
  }

  report(what: string, err: unknown): void {
    this.act.host.reportError?.(this.act, `transaction ${what}`, err);
  }

  /** Remembers an outcome learnt from storage (recovery), unless one is known already. */
  noteOutcome(txnId: string, outcome: Outcome): void {
    if (!this.outcomes.has(txnId)) this.remember(txnId, outcome);
  }

  /** Records being collected from this activation, as `itemName#txnId` (one attempt at a time each). */
  private readonly collecting = new Set<string>();

  /**
   * Collects the records `s` owes (retention.ts), in the background: done (deleted, gone, held
   * by another item, or kept by a provider that cannot delete) → `s` no longer owes it; too
   * young → again when due; failed → again after the recovery grace. Stops with the activation
   * (the item still lists the duty; its next activation takes it up).
   */
  collect(s: TxState<unknown>, ids: readonly string[]): void {
    const clock = this.act.host.clock;
    for (const id of ids) {
      const key = `${s.itemName}#${id}`;
      if (this.collecting.has(key) || this.act.status === DEAD) continue;
      this.collecting.add(key);
      collectRecord(this.act.host.storage, id, clock.now(), transactionDefaults.recordRetentionMs, [this.act.key, s.itemName]).then(
        (r) => {
          this.collecting.delete(key);
          if (typeof r === 'object') this.collectLater(s, id, r.notBefore - clock.now());
          else s.collected(id);
        },
        (err) => {
          this.collecting.delete(key);
          if (this.act.status === DEAD) return;
          this.report('record collection', err);
          this.collectLater(s, id, this.recoveryGraceMs());
        },
      );
    }
  }

  private collectLater(s: TxState<unknown>, id: string, delayMs: number): void {
    this.act.host.clock.setTimer(() => this.collect(s, [id]), Math.max(1, delayMs));
  }

  private remember(txnId: string, outcome: Outcome | 'released'): void {
    this.outcomes.delete(txnId);
    this.outcomes.set(txnId, outcome);
    if (this.outcomes.size > REMEMBERED) this.outcomes.delete(this.outcomes.keys().next().value!);
  }

  // ---- inside a transaction's turns -----------------------------------------------

  /** Enlists the current transaction here, loads `s` and takes its lock. */
  async enter(s: TxState<unknown>, write: boolean): Promise<PTxn> {
    const ctx = txnOfScope(currentScope());
    if (ctx === undefined) {
      throw new InvalidArgumentError(
        `${s.describe()} was used outside a transaction; use it in a method marked 'join', 'create' or 'createOrJoin' (static transactions), or inside client.transaction(...) / this.transaction(...)`,
        { code: 'transaction_required' },
      );
    }
    let t = this.txns.get(ctx.id);
    try {
      if (t === undefined) {
        const known = this.outcomes.get(ctx.id);
        if (known !== undefined) throw refusal(ctx.id, `a call of it reached ${this.act.key} after the transaction had already ${known === 'aborted' ? 'aborted' : 'finished'} there`);
        if (this.act.host.clock.now() >= ctx.deadline) throw refusal(ctx.id, `it ran past its deadline before reaching ${this.act.key}`, 'transaction_timeout');
        t = new PTxn(ctx.id, ctx.deadline, ctx.lockWaitMs);
        this.txns.set(t.id, t);
        this.watch(t);
      } else if (t.status !== 'active') {
        throw refusal(t.id, `a call of it reached ${this.act.key} after its commit had started (await every call made inside a transaction)`);
      }
      ctx.join(this.act.key, false);
      const loading = s.ensureLoaded();
      if (loading !== undefined) await loading;
      if (t.status !== 'active') throw refusal(t.id, t.reason ?? `it was aborted at ${this.act.key}`);
      const waiting = s.acquire(t, write);
      if (waiting !== undefined) await waiting;
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      ctx.break(`${this.act.key}: ${(err as Error)?.message ?? String(err)}`, isRefusalCode(code) ? code : 'transaction_conflict');
      throw err;
    }
    return t;
  }

  /** The current transaction changed state here. */
  wrote(_t: PTxn): void {
    txnOfScope(currentScope())?.join(this.act.key, true);
  }

  /**
   * Keeps the activation alive while it holds `t`, and makes sure the deadline sweep runs by
   * `t`'s deadline (plus grace). One timer per participant, not one per transaction: nearly
   * every transaction ends long before its deadline.
   */
  private watch(t: PTxn): void {
    const clock = this.act.host.clock;
    const at = t.deadline + this.recoveryGraceMs();
    this.act.delayDeactivation(Math.max(1, at - clock.now()) + 1_000);
    if (this.sweepTimer === undefined || at < this.sweepAt) this.armSweep(at);
  }

  private sweepTimer: TimerHandle | undefined = undefined;
  private sweepAt = Infinity;

  private armSweep(at: number): void {
    this.sweepTimer?.cancel();
    this.sweepAt = at;
    this.sweepTimer = this.act.host.clock.setTimer(() => {
      this.sweepTimer = undefined;
      this.sweepAt = Infinity;
      this.sweep();
    }, Math.max(1, at - this.act.host.clock.now()));
  }

  /**
   * Transactions past their deadline (plus grace): a running one is dropped; a prepared one
   * asks the record (absent → aborted); one mid-write is looked at again later.
   */
  private sweep(): void {
    const now = this.act.host.clock.now();
    const grace = this.recoveryGraceMs();
    let next = Infinity;
    for (const t of [...this.txns.values()]) {
      const due = t.deadline + grace;
      if (due > now) { next = Math.min(next, due); continue; }
      if (t.status === 'active') {
        this.abortLocal(t, `it ran past its deadline at ${this.act.key}`, 'transaction_timeout');
      } else if (t.status === 'prepared' && !t.resolving) {
        t.resolving = true;
        this.resolveByRecord(t).catch((err) => this.report('recovery', err)).finally(() => { t.resolving = false; });
        next = Math.min(next, now + grace);
      } else {
        next = Math.min(next, now + grace);
      }
    }
    if (next !== Infinity && (this.sweepTimer === undefined || next < this.sweepAt)) this.armSweep(next);
  }

  /** A prepared transaction whose outcome never arrived: the record decides (absent → aborted). */
  private async resolveByRecord(t: PTxn): Promise<void> {
    if (this.act.status === DEAD) return;
    const storage = this.act.host.storage;
    const outcome = (await readRecord(storage, t.id)) ?? (await createRecord(storage, t.id, 'aborted', this.act.host.clock.now()));
    this.settle(t.id, outcome);
  }

  // ---- local outcomes ------------------------------------------------------------

  abortLocal(t: PTxn, reason: string, code: RefusalCode = 'transaction_conflict'): void {
    if (t.status === 'done') return;
    t.markDone('aborted', reason);
    this.txns.delete(t.id);
    this.remember(t.id, 'aborted');
    // The error only for a turn that waits: most aborts have none, and an error costs its stack.
    let err: Error | undefined;
    for (const s of this.states.values()) s.cancelWaits(t, () => (err ??= refusal(t.id, reason, code)));
    for (const s of t.locked) s.release(t);
  }

  /** Commits `t` here: its new values become the committed ones (unless already reloaded from storage). */
  commitLocal(t: PTxn, apply = true): void {
    if (t.status === 'done') return;
    t.markDone('committed');
    this.txns.delete(t.id);
    this.remember(t.id, 'committed');
    if (apply) for (const s of t.writes) s.apply(t);
    for (const s of t.locked) s.release(t);
  }

  /**
   * The one-phase commit write of `t` failed without saying whether it landed. The item
   * (reloaded) says: `t` among its recent commits → committed; otherwise fence the item so
   * the write can never land late → aborted.
   */
  async settleUncertainOnePhase(t: PTxn, s: TxState<unknown>): Promise<Outcome> {
    for (let attempt = 0; ; attempt++) {
      const l = s.ensureLoaded();
      if (l !== undefined) await l;
      if (s.committedOnePhase(t.id)) {
        this.commitLocal(t, false);
        return 'committed';
      }
      try {
        await s.fence();
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    this.abortLocal(t, `the commit write of ${s.describe()} did not land`);
    return 'aborted';
  }

  /**
   * `settleUncertainOnePhase` could not reach storage: the outcome stays unknown, and `t` keeps
   * its locks (nothing may read past a write that may have landed). Keep trying on the host's
   * clock, backing off, until storage answers; then `t` settles, its locks go, and whoever
   * waits on it (a coordinator resolving it) learns the outcome. An activation that ends
   * meanwhile leaves it to the next one, which recovers from storage.
   */
  retryUncertainOnePhase(t: PTxn, s: TxState<unknown>, delayMs = 50): void {
    this.act.host.clock.setTimer(() => {
      if (this.act.status === DEAD || t.status === 'done') return;
      this.settleUncertainOnePhase(t, s).catch((err) => {
        this.report('one-phase commit settlement (retrying)', err);
        this.retryUncertainOnePhase(t, s, Math.min(delayMs * 2, 5_000));
      });
    }, delayMs);
  }

  /** Read only here: lets go of its locks; the outcome is not this participant's concern. */
  private releaseReadOnly(t: PTxn): void {
    t.markDone('committed');
    this.txns.delete(t.id);
    this.remember(t.id, 'released');
    for (const s of t.locked) s.release(t);
  }

  /** A write of this participant failed: its in-memory view may be stale, so transactions holding it abort. */
  invalidated(s: TxState<unknown>, reason: string): void {
    for (const t of [...this.txns.values()]) if (t.locked.has(s) && t.status === 'active') this.abortLocal(t, reason);
  }

  // ---- protocol messages -----------------------------------------------------------

  /** Prepare: a writer makes its new values durable as pending values; a reader checks and lets go. */
  async prepare(w: TxnWire, write: boolean): Promise<Vote> {
    const t = this.txns.get(w.id);
    if (t === undefined || t.status !== 'active') {
      const known = this.outcomes.get(w.id);
      return { vote: 'no', reason: t ? `it was already ${t.status} at ${this.act.key}` : known ? `it had already ${known === 'aborted' ? 'aborted' : 'ended'} at ${this.act.key}` : `${this.act.key} does not know it (its activation was lost, or it timed out there)` };
    }
    if (t.writes.size > 0 && !write) {
      this.abortLocal(t, 'the coordinator asked for a read-only vote from a participant that changed state');
      return { vote: 'no', reason: `${this.act.key} changed state, but the coordinator did not know` };
    }
    t.status = 'preparing';
    // A resolve arriving meanwhile waits for this (`preparing`), as it waits for the writes.
    const validating = this.validateReads(t);
    t.preparing = validating;
    const stale = await validating;
    if (stale !== undefined) return stale;
    if (t.writes.size === 0) {
      this.releaseReadOnly(t);
      return { vote: 'ro' };
    }
    try {
      await (t.preparing = Promise.all([...t.writes].map((s) => s.writePending(t))));
    } catch (err) {
      this.abortLocal(t, `${this.act.key} could not prepare: ${(err as Error).message}`);
      return { vote: 'no', reason: `${this.act.key} could not prepare: ${(err as Error).message}` };
    }
    if (t.status !== 'preparing') return { vote: 'no', reason: t.reason ?? `it aborted at ${this.act.key} while preparing` };
    t.status = 'prepared';
    for (const s of t.locked) if (!t.writes.has(s)) s.release(t);
    return { vote: 'yes', items: [...t.writes].map((s) => s.itemName) };
  }

  /**
   * Checks that every state `t` only read here is still the version stored now: a twin
   * activation of this grain (a partition) may have written it since this one loaded it,
   * and writers are checked by ETag but readers would not be. A no vote (undefined: all
   * current). The stale state is invalidated, so the next transaction reloads it.
   */
  async validateReads(t: PTxn): Promise<Vote | undefined> {
    const read = [...t.locked].filter((s) => !t.writes.has(s));
    if (read.length === 0) return undefined;
    let stale: TxState<unknown> | undefined;
    try {
      const current = await Promise.all(read.map((s) => s.isCurrent()));
      stale = read.find((_, i) => !current[i]);
    } catch (err) {
      const reason = `${this.act.key} could not check the version of the state it read: ${(err as Error).message}`;
      this.abortLocal(t, reason);
      return { vote: 'no', reason };
    }
    if (t.status !== 'preparing' && t.status !== 'active') return { vote: 'no', reason: t.reason ?? `it aborted at ${this.act.key} while its reads were checked` };
    if (stale === undefined) return undefined;
    const reason = `${stale.describe()} changed in storage since it was read (another activation of ${this.act.key} wrote it, e.g. during a network partition); the read was stale, retry`;
    stale.invalidate();
    this.invalidated(stale, reason);
    this.abortLocal(t, reason);
    return { vote: 'no', reason };
  }

  /** The outcome of a transaction, from its coordinator or from recovery. */
  settle(txnId: string, outcome: Outcome): void {
    const t = this.txns.get(txnId);
    if (t !== undefined) {
      if (outcome === 'aborted') this.abortLocal(t, 'its coordinator aborted it');
      // Only a prepared transaction can have committed; anything else is a stray message.
      else if (t.status === 'prepared' || t.status === 'committing') this.commitLocal(t);
    }
    for (const s of this.states.values()) s.resolveRecovered(txnId, outcome);
    if (t === undefined && !this.outcomes.has(txnId)) this.remember(txnId, outcome);
  }

  /**
   * Finds out the outcome of a transaction whose coordinator lost contact, and makes it
   * final: the transaction record if there is one; a commit this grain remembers (one-phase,
   * or two-phase folded in); otherwise `aborted`, made final by fencing this grain's items (so
   * a one-phase write still in flight cannot land) and creating the record `aborted` — for a
   * two-phase commit only when this grain can tell it was not committed and its record
   * collected, else `unknown` (the coordinator asks the others).
   */
  async resolve(txnId: string, onePhase: boolean): Promise<Outcome | 'unknown'> {
    const t = this.txns.get(txnId);
    // Let a prepare or a one-phase commit in progress here finish first.
    if (t?.status === 'preparing') await t.preparing?.catch(() => undefined);
    if (t?.status === 'committing') await t.finished();
    const known = this.knownOutcome(txnId);
    if (known !== undefined) return known;
    const storage = this.act.host.storage;
    const recorded = await readRecord(storage, txnId);
    if (recorded !== undefined) {
      this.settle(txnId, recorded);
      return recorded;
    }
    // A two-phase commit folded into an item lists it among the item's recent commits, so the
    // outcome stays known once its record has been collected (retention.ts).
    if (!onePhase) {
      for (const s of this.states.values()) {
        const l = s.ensureLoaded();
        if (l !== undefined) await l;
        if (s.committedOnePhase(txnId)) { this.settle(txnId, 'committed'); return 'committed'; }
      }
      // No record, and not among the recent commits (which hold only the last few). A
      // committed record goes once every item dropped the pending value, so no record proves
      // nothing by itself. It does when this grain can still veto the commit (the
      // transaction is running here: it has not voted, and aborting it here makes its vote
      // no), or when an item here still holds the pending value (looked at after the record
      // was found missing: the record cannot have gone while it did). Otherwise the outcome
      // is not known here: the coordinator asks the others, and in the end is in doubt.
      const running = this.txns.get(txnId)?.status === 'active';
      if (!running && ![...this.states.values()].some((s) => s.holdsPendingOf(txnId))) return 'unknown';
    }
    if (onePhase) {
      for (let attempt = 0; ; attempt++) {
        for (const s of this.states.values()) {
          const l = s.ensureLoaded();
          if (l !== undefined) await l;
          if (s.committedOnePhase(txnId)) { this.settle(txnId, 'committed'); return 'committed'; }
        }
        if (this.act.status === DEAD) throw new Error(`${this.act.key} is no longer active`);
        try {
          for (const s of this.states.values()) await s.fence();
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    }
    const outcome = await createRecord(storage, txnId, 'aborted', this.act.host.clock.now());
    this.settle(txnId, outcome);
    return outcome;
  }
}
