/**
 * One activation of a grain: its instance, its state and ETag, and its mailbox.
 *
 * Scheduling is turn-based: one call at a time, to completion, including its awaits.
 * Calls start at once, without waiting for the turn in progress, when
 *  - the class is `static reentrant = true`, or the method is listed in `static interleave`;
 *  - the call comes back along its own call chain (A → B → A): call-chain reentrancy.
 * A call back into an activation that is still activating or deactivating could never
 * run, so it fails at once with `DeadlockError` instead of waiting for the timeout.
 */
import { chainDepth, chainIncludes, newScope, scopeStorage } from './context.js';
import type { Clock, TimerHandle } from './clock.js';
import { decode, encode } from './codec.js';
import { DeadlockError, GrainError, InconsistentStateError, MethodNotFoundError, TimeoutError, toGrainError } from './errors.js';
import { systemMessageHandler } from './features.js';
import { anyFilterActive, runFilters, type CallFilter, type GrainCall } from './filters.js';
import { initialStateOf, instantiateGrain, type DeactivationReason, type Disposable, type Grain, type GrainRuntime, type TimerOptions } from './grain.js';
import type { GrainClass, GrainType } from './grain-type.js';
import type { GrainId } from './identity.js';
import type { PendingCall } from './pending-call.js';
import { RESERVED_METHOD_CHAR } from './protocol.js';
import { DEFAULT_STATE_NAME, type StorageProvider } from './storage.js';
import { CALL_LOG_SIZE, CallLog, parseStoredPayload, storedPayload, turnIds, type RecordedOutcome, type TurnIds } from './call-log.js';

export enum Status {
  Activating = 0,
  Valid = 1,
  Deactivating = 2,
  Dead = 3,
}

/** The longest call chain accepted before a call is refused as runaway recursion. */
export const MAX_CHAIN_DEPTH = 64;

/** What an activation needs from the silo that hosts it. */
export interface ActivationHost {
  readonly clock: Clock;
  readonly storage: StorageProvider;
  readonly defaultIdleTimeoutMs: number;
  /** The host's incoming call filters (silo-wide), run around every grain method call. */
  readonly incomingFilters: readonly CallFilter[];
  ref(type: string | GrainClass, key: string): unknown;
  /** Copies a value handed between a local caller and callee (through the codec). */
  copy(value: unknown): unknown;
  /** Routes a call again (its activation went away or lives elsewhere). */
  reroute(call: PendingCall): void;
  /** Files the activation with the idle collector for `at`. */
  scheduleIdleCheck(act: Activation, at: number): void;
  /** Puts the activation under the deadline watchdog while it has calls in progress. */
  watch(act: Activation): void;
  /** Tells the host the activation asked to deactivate. */
  requestDeactivation(act: Activation, reason: DeactivationReason): void;
  /** Reports an error no caller will see (a timer tick, `onDeactivate`). */
  reportError(act: Activation, what: string, err: unknown): void;
  /** A call's turn failed with `err`, which its caller gets (the silo logs grain exceptions). */
  callFailed?(act: Activation, call: PendingCall, err: unknown, answer: unknown): void;
}

export interface ActivationInit {
  id: GrainId;
  /** `"type/key"`. */
  key: string;
  type: GrainType;
  /** Unique among this grain's activations on this silo; names it in the directory. */
  activationId: string;
  host: ActivationHost;
}

/** State a feature keeps beside the grain, one per activation (`Activation.component`). */
export interface ActivationComponent {
  /** Runs when the activation deactivates, after the grain's `onDeactivate`. */
  onDeactivate?(): void | Promise<void>;
}

interface Timer extends Disposable {
  handle: TimerHandle | undefined;
  disposed: boolean;
}

export class Activation implements GrainRuntime {
  status: Status = Status.Activating;
  grain!: Grain<unknown>;
  /** Turns running now (more than one only when interleaving). */
  running = 0;
  /** An exclusive (non-interleaved) turn is running. */
  private exclusive = false;
  private queue: (PendingCall | TimerTurn)[] | null = null;
  /** The exclusive call running now, and interleaved ones: what the watchdog may time out. */
  private current: PendingCall | null = null;
  private interleavedCalls: Set<PendingCall> | null = null;
  /** Under the host's deadline watchdog. */
  watched = false;
  /** Resolved when running turns reach zero (deactivation waits on it). */
  private drained: (() => void)[] | null = null;
  lastActive: number;
  private keepAliveUntil = 0;
  private etag: string | undefined = undefined;
  private timers: Set<Timer> | null = null;
  private deactivateRequested = false;
  private writeChain: Promise<void> | null = null;
  /** A write refused earlier in this activation (see afterRefusedWrite). */
  private refusedWrite: unknown = undefined;
  /**
   * The calls whose writes this grain's state records (runtime/call-log.ts); null until a call
   * with an id writes. Kept for grains whose state a feature loads (journaled) by that feature.
   */
  callLog: CallLog | null = null;
  /**
   * The stored state's codec text (null: nothing stored, or cleared): what a replay returns to
   * once its skipped writes are done. A feature that keeps the state (journaled grains) keeps it
   * current while the call record is in use.
   */
  storedState: string | null = null;
  /** Calls waiting for the outcome of a call with the same id that runs here now (a retry after a timeout). */
  private sameIdWaiting: Map<string, PendingCall[]> | null = null;
  /** Ids of the calls running here now. */
  private runningIds: Set<string> | null = null;
  /**
   * Outcomes of the latest calls that ended here without a write (the record keeps the ones
   * that wrote), in memory only: a duplicate delivery of one is answered, not run again.
   */
  private recentOutcomes: Map<string, RecordedOutcome> | null = null;
  /** Resolves when the activation has fully ended (deactivated or failed to activate). */
  private endedPromise: Promise<void> | null = null;
  private endResolve: (() => void) | null = null;

  /** Runs a call's method: directly, or through the incoming call filters. */
  private readonly invoke: (grain: Grain<unknown>, call: PendingCall) => unknown;
  /** Every filter can be idle (tracing with no SDK): a turn checks, and skips them all when they are. */
  private readonly filtersMayIdle: boolean;
  /** Incoming filters: the host's, then the features' of this type (runtime/features.ts). */
  private readonly filters: readonly CallFilter[];
  private components: Map<object, ActivationComponent> | null = null;
  readonly id: GrainId;
  readonly key: string;
  readonly type: GrainType;
  readonly activationId: string;
  /** Read by features too (storage, clock, routing of their own messages). */
  readonly host: ActivationHost;

  constructor(init: ActivationInit) {
    this.id = init.id;
    this.key = init.key;
    this.type = init.type;
    this.activationId = init.activationId;
    this.host = init.host;
    this.lastActive = this.host.clock.now();
    const filters = this.type.filters.length === 0
      ? this.host.incomingFilters
      : [...this.host.incomingFilters, ...this.type.filters.map((make) => make(this))];
    this.filters = filters;
    this.invoke = filters.length === 0 ? invokeMethod : (grain, call) => this.invokeFiltered(grain, call);
    this.filtersMayIdle = filters.length > 0 && filters.every((f) => f.active !== undefined);
  }

  /**
   * The component `key` names for this activation, created on first use: how a feature keeps
   * per-activation state beside the grain (Orleans' facets).
   */
  component<C extends ActivationComponent>(key: object, create: () => C): C;
  component<C extends ActivationComponent>(key: object): C | undefined;
  component<C extends ActivationComponent>(key: object, create?: () => C): C | undefined {
    let c = this.components?.get(key) as C | undefined;
    if (c === undefined && create !== undefined) {
      c = create();
      (this.components ??= new Map()).set(key, c);
    }
    return c;
  }

  get idleTimeoutMs(): number {
    return this.type.idleTimeoutMs ?? this.host.defaultIdleTimeoutMs;
  }

  /** When this activation becomes collectable if nothing else happens. */
  expiresAt(): number {
    return Math.max(this.lastActive + this.idleTimeoutMs, this.keepAliveUntil);
  }

  isIdle(): boolean {
    return this.running === 0 && (this.queue === null || this.queue.length === 0);
  }

  get queued(): number {
    return this.queue?.length ?? 0;
  }

  /** Resolves once the activation has ended. */
  ended(): Promise<void> {
    if (this.status === Status.Dead) return Promise.resolve();
    this.endedPromise ??= new Promise<void>((r) => { this.endResolve = r; });
    return this.endedPromise;
  }

  // ---- activation ----------------------------------------------------------------

  /** Creates the grain, loads its state and runs `onActivate`; then calls flow. */
  async activate(): Promise<void> {
    this.grain = instantiateGrain(this.type.cls, this);
    await this.loadState();
    await scopeStorage.run(newScope({ grain: this.key }), () => this.grain.onActivate());
    this.status = Status.Valid;
    // onActivate caught a refused write: this activation's state is not the stored one.
    if (this.refusedWrite !== undefined) this.deactivateOnIdle();
    this.lastActive = this.host.clock.now();
    this.host.scheduleIdleCheck(this, this.expiresAt());
    this.pump();
  }

  private async loadState(): Promise<void> {
    // A feature that keeps this type's state (journaled grains) loads it instead.
    if (this.type.loadState !== undefined) return this.type.loadState(this);
    const stored = await this.host.storage.read(this.id, DEFAULT_STATE_NAME);
    this.etag = stored?.etag;
    const { state, log } = stored?.payload !== undefined ? parseStoredPayload(stored.payload) : { state: null, log: null };
    this.callLog = log;
    this.storedState = state;
    this.grain.state = this.stateFrom(state);
  }

  private stateFrom(text: string | null): unknown {
    return text !== null ? decode(text, { ref: (t, k) => this.host.ref(t, k) }) : initialStateOf(this.grain);
  }

  // ---- calls ---------------------------------------------------------------------

  /**
   * Accepts a call. Unknown methods and calls that could only deadlock are rejected at once;
   * calls for an activation that is going away are routed again.
   */
  receive(call: PendingCall): void {
    if (call.method.charCodeAt(0) === RESERVED_METHOD_CHAR) {
      // A feature's own message (`$txn.prepare`, …): answered by the feature, outside the mailbox.
      const handler = systemMessageHandler(call.method);
      if (handler !== undefined) {
        // A duplicate delivery of one is answered with the first's outcome, not handled twice.
        if (call.id !== undefined) {
          if (this.answeredFromLog(call)) return;
          this.followOutcome(call);
        }
        handler(this, call);
      } else call.reject(new MethodNotFoundError(`"${call.method}" is a reserved name and no feature handles it`));
      return;
    }
    if (!this.type.methods.has(call.method)) {
      call.reject(new MethodNotFoundError(`grain type ${this.type.name} has no callable method "${call.method}" (callable: ${[...this.type.methods].join(', ') || 'none'})`));
      return;
    }
    if (call.caller !== undefined && chainDepth(call.caller) >= MAX_CHAIN_DEPTH) {
      call.reject(new DeadlockError(`call chain deeper than ${MAX_CHAIN_DEPTH} grains at ${this.key}.${call.method}: runaway recursion between grains`));
      return;
    }
    const reentrant = call.caller !== undefined && chainIncludes(call.caller, this.key);
    switch (this.status) {
      case Status.Valid:
        break;
      case Status.Activating:
        if (reentrant) {
          call.reject(new DeadlockError(`${this.key}.${call.method} was called back along its own call chain while ${this.key} is still activating; the call could never run (avoid calling back into a grain from its onActivate chain)`));
          return;
        }
        this.enqueue(call);
        return;
      default:
        if (reentrant) {
          call.reject(new DeadlockError(`${this.key}.${call.method} was called back along its own call chain while ${this.key} is deactivating; the call could never run`));
          return;
        }
        this.host.reroute(call);
        return;
    }
    const interleaved = reentrant || this.type.reentrant || this.type.interleave.has(call.method);
    if (interleaved || (!this.exclusive && this.running === 0 && this.queue === null)) {
      this.start(call, !interleaved);
    } else {
      this.enqueue(call);
    }
  }

  private enqueue(call: PendingCall): void {
    call.queued = true;
    call.remaining(this.host.clock.now());
    (this.queue ??= []).push(call);
    if (!this.watched) this.host.watch(this);
  }

  private start(call: PendingCall, exclusive: boolean): void {
    call.queued = false;
    let turn: TurnIds | undefined;
    if (call.id !== undefined) {
      if (this.answeredFromLog(call)) return;
      turn = turnIds(call.id, call.resends > 0);
      const replay = this.callLog?.replayOf(call.id);
      if (replay !== undefined && !this.beginReplay(call, turn, replay)) return;
      (this.runningIds ??= new Set()).add(call.id);
    }
    this.running++;
    // No clock read here: the watchdog fixes the deadline when it first sees the call, and
    // idleness counts from the end of the last turn (`finish`).
    if (exclusive) {
      this.exclusive = true;
      this.current = call;
    } else {
      (this.interleavedCalls ??= new Set()).add(call);
    }
    if (!this.watched) this.host.watch(this);
    const caller = call.caller;
    const scope = newScope({ ctx: caller?.ctx, ctxShared: true, grain: this.key, parent: caller, ext: caller?.ext, turn });
    let result: unknown;
    try {
      const invoke = this.filtersMayIdle && !anyFilterActive(this.filters) ? invokeMethod : this.invoke;
      result = scopeStorage.run(scope, invoke, this.grain, call);
    } catch (err) {
      this.turnEnded(call, turn, { ok: false, error: err }, exclusive);
      return;
    }
    (result instanceof Promise ? result : Promise.resolve(result)).then(
      (value) => this.turnEnded(call, turn, { ok: true, value }, exclusive),
      (error) => this.turnEnded(call, turn, { ok: false, error }, exclusive),
    );
  }

  /**
   * A call's turn ended. A call with an id that wrote has its outcome recorded (stored by the
   * next write; by a write of its own first, when its record could not replay it), and calls
   * with its id that waited for it get the same answer.
   */
  private turnEnded(call: PendingCall, turn: TurnIds | undefined, outcome: RecordedOutcome, exclusive: boolean): void {
    if (turn !== undefined && (turn.replay !== undefined || turn.skipWrites > 0)) {
      // A replay ran on its own state (`skippedByReplay`), or its skipped writes never came
      // (the method is not deterministic): the stored state is the grain's.
      this.grain.state = this.stateFrom(this.storedState);
    }
    const log = this.callLog;
    if (turn !== undefined && log !== null && log.isLive(turn.id) && log.complete(turn.id, this.recordable(outcome))) {
      // Its record cannot replay it (the state before it was too large to keep): store the
      // outcome before answering, so a re-send after a crash finds it.
      const done = () => this.settleTurn(call, turn, outcome, exclusive);
      this.writeRecord().then(done, done);
      return;
    }
    this.settleTurn(call, turn, outcome, exclusive);
  }

  private settleTurn(call: PendingCall, turn: TurnIds | undefined, outcome: RecordedOutcome, exclusive: boolean): void {
    this.finish(exclusive, call);
    this.answer(call, outcome);
    if (turn !== undefined) this.idEnded(turn.id, outcome);
  }

  /** Remembers how a feature's message (answered outside the mailbox) ends, for its duplicates. */
  private followOutcome(call: PendingCall): void {
    const id = call.id!;
    (this.runningIds ??= new Set()).add(id);
    call.onSettled = (ok, v) => this.idEnded(id, ok ? { ok: true, value: v } : { ok: false, error: v });
  }

  /**
   * The call with `id` ended here with `outcome`: calls with its id that waited get it too, and
   * it is remembered in memory unless the record keeps it.
   */
  private idEnded(id: string, outcome: RecordedOutcome): void {
    this.runningIds?.delete(id);
    if (this.callLog?.has(id) !== true) {
      const recent = (this.recentOutcomes ??= new Map());
      recent.set(id, outcome);
      if (recent.size > CALL_LOG_SIZE) recent.delete(recent.keys().next().value!);
    }
    const waiting = this.sameIdWaiting?.get(id);
    if (waiting === undefined) return;
    this.sameIdWaiting!.delete(id);
    for (const c of waiting) this.answer(c, outcome);
  }

  /**
   * How the call `id` ended in this activation when the call record does not hold it: what
   * its duplicates are answered with (undefined while it runs, or once the window let it go).
   */
  endedOutcome(id: string): RecordedOutcome | undefined {
    return this.recentOutcomes?.get(id);
  }

  /** The outcome as recorded: an error as its caller gets it. */
  private recordable(outcome: RecordedOutcome): RecordedOutcome {
    return outcome.ok ? outcome : { ok: false, error: toGrainError(outcome.error) };
  }

  private answer(call: PendingCall, outcome: RecordedOutcome): void {
    if (!outcome.ok) {
      this.failed(call, outcome.error);
      return;
    }
    let value = outcome.value;
    if (call.copyResult) {
      try {
        value = this.host.copy(value);
      } catch (err) {
        call.reject(err);
        return;
      }
    }
    call.resolve(value);
  }

  /**
   * A call whose id this grain's record knows: answered with the recorded outcome (the call
   * ran and its write committed), or, while the call with that id runs here now, answered
   * with its outcome when it ends. True when the call is taken care of.
   */
  private answeredFromLog(call: PendingCall): boolean {
    const id = call.id!;
    if (this.runningIds?.has(id) === true) {
      const waiting = (this.sameIdWaiting ??= new Map());
      const list = waiting.get(id);
      if (list === undefined) waiting.set(id, [call]);
      else list.push(call);
      return true;
    }
    const recent = this.recentOutcomes?.get(id);
    if (recent !== undefined) {
      this.answer(call, recent);
      return true;
    }
    const log = this.callLog;
    if (log === null) return false;
    const recorded = log.outcome(id, { ref: (t, k) => this.host.ref(t, k) }, `${this.key}.${call.method}`);
    if (recorded === undefined) return false;
    if (recorded.ok) call.resolve(recorded.value);
    else call.reject(recorded.error);
    return true;
  }

  /**
   * The call wrote, and its host died before the outcome was recorded: run it again from the
   * state before it, skipping the writes that committed (runtime/call-log.ts). False when it
   * cannot (the state before it was too large to keep): then it was answered with why.
   */
  private beginReplay(call: PendingCall, turn: TurnIds, replay: { writes: number; prev: string | null | undefined; overtaken: boolean }): boolean {
    const journaled = this.type.loadState !== undefined;
    // A journaled grain's replay would answer with the journal as later calls' batches left it
    // (its version): it is not replayed once another call wrote after it.
    if (replay.prev === undefined || (journaled && replay.overtaken)) {
      call.reject(new GrainError('result_not_recorded', `call ${call.id} to ${this.key}.${call.method} already ran and its state write committed, but its silo stopped before its result was stored${replay.prev === undefined ? '' : ', and other calls have written since'}; it cannot be answered again: do not retry it`, { status: 409, data: { callId: call.id } }));
      return false;
    }
    this.grain.state = this.stateFrom(replay.prev);
    turn.skipWrites = replay.writes;
    // A journaled grain's state skips its replayed confirms itself (features/journal).
    if (!journaled) turn.replay = { overtaken: replay.overtaken };
    this.callLog!.resume(call.id!);
    return true;
  }

  /** Answers a call whose turn threw: the host hears of it first (with the error as the caller gets it). */
  private failed(call: PendingCall, err: unknown): void {
    const answer = toGrainError(err);
    this.host.callFailed?.(this, call, err, answer);
    call.reject(answer);
  }

  /** Runs the method through the incoming filters; a filter may replace the arguments or answer itself. */
  private invokeFiltered(grain: Grain<unknown>, call: PendingCall): Promise<unknown> {
    const scope = scopeStorage.getStore();
    const seen: GrainCall = {
      grain: this.id,
      method: call.method,
      args: call.args,
      get context() { return scope?.ctx ?? EMPTY_CONTEXT; },
    };
    return runFilters(this.filters, seen, (c) => invokeMethod(grain, c));
  }

  /**
   * Times out the calls in progress or waiting whose deadline passed. Returns whether any
   * call is still unanswered (a turn that outlived its call needs no more watching).
   */
  expireCalls(now: number): boolean {
    let open = false;
    const check = (c: PendingCall) => { if (!c.expire(now) && !c.settled) open = true; };
    if (this.current) check(this.current);
    if (this.interleavedCalls) for (const c of this.interleavedCalls) check(c);
    if (this.queue) for (const item of this.queue) if (!(item instanceof TimerTurn)) check(item);
    return open;
  }

  private finish(exclusive: boolean, call?: PendingCall): void {
    this.running--;
    if (exclusive) {
      this.exclusive = false;
      this.current = null;
    } else if (call !== undefined) {
      this.interleavedCalls?.delete(call);
    }
    this.lastActive = this.host.clock.coarseNow();
    if (this.running === 0 && this.drained !== null) {
      for (const r of this.drained) r();
      this.drained = null;
    }
    if (this.deactivateRequested && this.running === 0) {
      this.host.requestDeactivation(this, 'requested');
      return;
    }
    this.pump();
  }

  private pump(): void {
    const q = this.queue;
    if (q === null || this.status !== Status.Valid) return;
    while (q.length > 0) {
      const next = q[0]!;
      if (next instanceof TimerTurn) {
        if (this.exclusive || this.running > 0) break;
        q.shift();
        this.startTimer(next);
        continue;
      }
      if (next.settled) { q.shift(); continue; }
      const interleaved = this.type.reentrant || this.type.interleave.has(next.method) ||
        (next.caller !== undefined && chainIncludes(next.caller, this.key));
      if (interleaved) { q.shift(); this.start(next, false); continue; }
      if (this.exclusive || this.running > 0) break;
      q.shift();
      this.start(next, true);
    }
    if (q.length === 0) this.queue = null;
  }

  // ---- deactivation --------------------------------------------------------------

  /**
   * Ends the activation: no new turns, waits for running ones, `onDeactivate`, then hands
   * back queued calls for re-routing. The host unregisters it and drops it afterwards.
   */
  async deactivate(reason: DeactivationReason, drainTimeoutMs = Infinity): Promise<PendingCall[]> {
    if (this.status !== Status.Valid) return [];
    this.status = Status.Deactivating;
    this.disposeTimers();
    if (this.running > 0) {
      // Running turns get `drainTimeoutMs` (real time) to finish; a turn that never ends
      // must not hold a silo's shutdown hostage.
      await new Promise<void>((resolve) => {
        (this.drained ??= []).push(resolve);
        if (drainTimeoutMs !== Infinity) {
          const t = setTimeout(() => {
            this.host.reportError(this, 'deactivation', new Error(`${this.running} turn(s) still running after ${drainTimeoutMs} ms; deactivating anyway`));
            resolve();
          }, drainTimeoutMs);
          (t as { unref?: () => void }).unref?.();
        }
      });
    }
    try {
      await scopeStorage.run(newScope({ grain: this.key }), () => this.grain.onDeactivate(reason));
    } catch (err) {
      this.host.reportError(this, 'onDeactivate', err);
    }
    if (this.components !== null) {
      for (const c of this.components.values()) {
        try {
          await c.onDeactivate?.();
        } catch (err) {
          this.host.reportError(this, 'onDeactivate (component)', err);
        }
      }
    }
    if (this.writeChain) await this.writeChain;
    return this.takeQueue();
  }

  /** Ends the activation because activation failed: the queued calls get `err`. */
  fail(err: unknown): void {
    for (const c of this.takeQueue()) c.reject(err);
    this.markEnded();
  }

  /** Hands over queued calls (after deactivation, or when the grain lives elsewhere). */
  takeQueue(): PendingCall[] {
    const q = this.queue ?? [];
    this.queue = null;
    const calls: PendingCall[] = [];
    for (const item of q) {
      if (item instanceof TimerTurn) { item.dropped?.(); continue; }
      item.queued = false;
      if (!item.settled) calls.push(item);
    }
    return calls;
  }

  markEnded(): void {
    this.status = Status.Dead;
    this.disposeTimers();
    this.endResolve?.();
  }

  /** Stops everything without hooks or goodbyes (the silo crashed). */
  abandon(): void {
    this.queue = null;
    this.markEnded();
  }

  // ---- GrainRuntime --------------------------------------------------------------

  writeState(): Promise<void> {
    const turn = this.turnOf();
    try {
      if (this.skippedByReplay(turn)) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
    // Checked when the turn asks, not when the write's turn in the chain comes.
    let refusal: unknown;
    try {
      this.beginWrite();
    } catch (err) {
      refusal = err;
    }
    return this.chained(async () => {
      let state: string;
      try {
        if (refusal !== undefined) throw refusal;
        this.checkStateStorable();
        state = encode(this.grain.state);
      } catch (err) {
        this.afterRefusedWrite(err);
        throw err;
      }
      this.noteWrite(turn);
      await this.store(storedPayload(state, this.callLog)!);
      this.storedState = state;
    });
  }

  /**
   * The call record hears of a write about to go: a call's is recorded as open; one of no call
   * (a timer's, a reminder's) still goes past the calls whose silo died after they wrote.
   */
  private noteWrite(turn: TurnIds | undefined): void {
    if (turn !== undefined) (this.callLog ??= new CallLog()).writing(turn.id, this.storedState);
    else this.callLog?.markOvertaken();
  }

  /** Writes from interleaved turns go one after another, each with the ETag the last one got. */
  private chained(run: () => Promise<void>): Promise<void> {
    const p = (this.writeChain ?? Promise.resolve()).then(run);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  /** One conditional write of the state item; a failure makes the activation refuse further writes. */
  private async store(payload: string): Promise<void> {
    try {
      this.etag = await this.host.storage.write(this.id, DEFAULT_STATE_NAME, payload, this.etag);
    } catch (err) {
      this.afterRefusedWrite(err);
      throw err;
    }
  }

  /**
   * A replay's write: skipped while it is one the first run committed. The replay keeps its own
   * state through them, so what it answers is what the first run answered, though other calls
   * may have written since (`turnEnded` puts the stored state back). Past them the call goes
   * on writing, unless others wrote since: its state is not the stored one then, and it stops
   * with `result_not_recorded` (its first writes stay; nothing is applied twice).
   */
  private skippedByReplay(turn: TurnIds | undefined): boolean {
    const replay = turn?.replay;
    if (replay === undefined) return false;
    if (turn!.skipWrites > 0) {
      turn!.skipWrites--;
      return true;
    }
    if (replay.overtaken) {
      throw new GrainError('result_not_recorded', `call ${turn!.id} to ${this.key} was re-sent after its silo died between two of its state writes; the first committed, and other calls have written since, so it cannot go on from where it stopped; it is not run further: do not retry it; read the state to see what it holds`, { status: 409, data: { callId: turn!.id } });
    }
    // No other write since the first run's last one: the stored state is the replay's; go on.
    turn!.replay = undefined;
    return false;
  }

  /**
   * Stores the call record alone for a feature that keeps this type's state (journaled grains:
   * a snapshot at the journal's end); null: the state port's write in `writeRecord`.
   */
  recordWriter: (() => Promise<void>) | null = null;

  /** Stores the call record with the stored state unchanged (a call's outcome its record cannot replay). */
  private writeRecord(): Promise<void> {
    if (this.recordWriter !== null) return this.recordWriter();
    return this.chained(async () => {
      const payload = storedPayload(this.storedState, this.callLog);
      if (this.refusedWrite === undefined && payload !== undefined) await this.store(payload);
    });
  }

  /** The ids of the call whose turn is running this code, when it is a call of this grain with an id. */
  private turnOf(): TurnIds | undefined {
    const scope = scopeStorage.getStore();
    return scope !== undefined && scope.grain === this.key ? scope.turn : undefined;
  }

  async readState(): Promise<void> {
    await this.loadState();
    // The state is the stored one again: writes may go on.
    this.refusedWrite = undefined;
  }

  async clearState(): Promise<void> {
    const turn = this.turnOf();
    if (this.skippedByReplay(turn)) return;
    try {
      this.beginWrite();
      this.noteWrite(turn);
      // With a call record the clear is a write of the record and no state, so the record survives it.
      const payload = storedPayload(null, this.callLog);
      this.etag = payload === undefined
        ? await this.host.storage.clear(this.id, DEFAULT_STATE_NAME, this.etag)
        : await this.host.storage.write(this.id, DEFAULT_STATE_NAME, payload, this.etag);
      this.storedState = null;
    } catch (err) {
      this.afterRefusedWrite(err);
      throw err;
    }
    this.grain.state = initialStateOf(this.grain);
    this.refusedWrite = undefined;
  }

  /**
   * After a write storage refused or that failed — too large, too deep, not serialisable,
   * a lost ETag race, a storage error, a deadline that already answered — `state` holds what
   * is not stored (or, when the outcome is unknown, may not be). The activation deactivates
   * once its running turns end, and the next call starts from the stored state; until then
   * no write of this `state` is attempted (unless `readState()` reloads it), so neither a
   * later call nor `onDeactivate` can store what storage refused. Why deactivate rather than
   * reload in place: docs/storage.md, "When a write fails".
   */
  private afterRefusedWrite(err: unknown): void {
    // The first failure is the one to report; later refusals only repeat it.
    this.refusedWrite ??= err ?? new Error('state write failed');
    this.deactivateOnIdle();
  }

  private checkStateStorable(): void {
    if (this.refusedWrite === undefined) return;
    const why = (this.refusedWrite as { message?: unknown }).message;
    throw new InconsistentStateError(
      `${this.key}: an earlier write of this activation's state failed (${typeof why === 'string' ? why : String(this.refusedWrite)}), so its state may differ from the stored one; the activation deactivates after the turns running now and the next call starts from the stored state (call readState() to reload it first if this turn must write)`,
    );
  }

  /**
   * The deadline rule (docs/storage.md, "Deadlines and state writes"): a turn whose call was
   * already answered with a timeout may not write (its caller was told it failed); once a
   * turn begins a write, no deadline cuts the calls running: they get the write's outcome.
   * With interleaved turns the writer cannot be told apart, so every running call is held
   * and none refused.
   */
  private beginWrite(): void {
    const current = this.current;
    const interleaved = this.interleavedCalls;
    if (interleaved === null || interleaved.size === 0) {
      if (current === null) return; // activation, deactivation, a timer or a feature's turn
      if (current.timedOut) {
        throw new TimeoutError(`${this.key}.${current.method} ran past its deadline and its caller was answered with a timeout; its state write is refused, so a call answered as failed stores nothing`);
      }
      current.writing = true;
      return;
    }
    if (current !== null && !current.timedOut) current.writing = true;
    for (const c of interleaved) if (!c.timedOut) c.writing = true;
  }

  ref(type: string | GrainClass, key: string): unknown {
    return this.host.ref(type, key);
  }

  deactivateOnIdle(): void {
    if (this.status !== Status.Valid) return;
    this.deactivateRequested = true;
    if (this.running === 0) this.host.requestDeactivation(this, 'requested');
  }

  delayDeactivation(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`delayDeactivation takes a non-negative number of milliseconds (got ${ms})`);
    this.keepAliveUntil = Math.max(this.keepAliveUntil, this.host.clock.now() + ms);
  }

  registerTimer(fn: () => unknown, options: TimerOptions): Disposable {
    if (typeof fn !== 'function') throw new TypeError('registerTimer takes a function');
    const period = options.periodMs;
    const due = options.dueMs ?? period;
    if (due === undefined || !(due >= 0) || (period !== undefined && !(period > 0))) {
      throw new RangeError('registerTimer needs dueMs >= 0 and/or periodMs > 0');
    }
    if (this.status === Status.Dead || this.status === Status.Deactivating) {
      throw new RangeError(`${this.key} is deactivating; it cannot register timers`);
    }
    const timers = (this.timers ??= new Set());
    const timer: Timer = {
      handle: undefined,
      disposed: false,
      dispose: () => {
        timer.disposed = true;
        timer.handle?.cancel();
        timers.delete(timer);
      },
    };
    const tick = () => {
      timer.handle = undefined;
      if (timer.disposed || this.status !== Status.Valid) return;
      this.runTimerTurn(fn).then(() => {
        if (period !== undefined && !timer.disposed && this.status === Status.Valid) {
          timer.handle = this.host.clock.setTimer(tick, period);
        } else {
          timer.dispose();
        }
      });
    };
    timer.handle = this.host.clock.setTimer(tick, due);
    timers.add(timer);
    return { dispose: timer.dispose };
  }

  /**
   * Runs `fn` as an exclusive turn of this grain with no request context, behind the calls
   * already waiting, once the activation is valid: how a feature runs grain code (a reminder's
   * `receiveReminder`). Resolves or rejects with what `fn` returned or threw; unlike a timer
   * tick it counts as use. If the activation ends before the turn starts, it never runs and
   * `dropped` is called instead (route the work again).
   */
  runTurn(fn: () => unknown, dropped?: () => void): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const turn = new TimerTurn(fn, () => undefined, resolve, reject, dropped);
      if (this.status === Status.Valid && !this.exclusive && this.running === 0 && this.queue === null) this.startTimer(turn);
      else (this.queue ??= []).push(turn);
    });
  }

  /** A timer tick is an ordinary exclusive turn with no request context; it does not count as use. */
  private runTimerTurn(fn: () => unknown): Promise<void> {
    return new Promise<void>((resolve) => {
      const turn = new TimerTurn(fn, resolve);
      if (!this.exclusive && this.running === 0 && this.queue === null) this.startTimer(turn);
      else (this.queue ??= []).push(turn);
    });
  }

  private startTimer(turn: TimerTurn): void {
    this.running++;
    this.exclusive = true;
    const usedAt = this.lastActive;
    const scope = newScope({ grain: this.key });
    const done = (failed: boolean, err?: unknown, value?: unknown) => {
      if (turn.onResult !== undefined) {
        // A feature's turn (`runTurn`): its caller gets the outcome, and it counts as use.
        this.finish(true);
        if (failed) turn.onError!(err);
        else turn.onResult(value);
        return;
      }
      if (failed) this.host.reportError(this, 'timer', err);
      this.finish(true);
      this.lastActive = usedAt; // a tick is not use: it must not keep the grain alive
      turn.done();
    };
    try {
      Promise.resolve(scopeStorage.run(scope, () => turn.fn.call(this.grain))).then((v) => done(false, undefined, v), (e) => done(true, e));
    } catch (e) {
      done(true, e);
    }
  }

  private disposeTimers(): void {
    if (this.timers) for (const t of [...this.timers]) t.dispose();
    this.timers = null;
  }
}

const EMPTY_CONTEXT: Readonly<Record<string, unknown>> = Object.freeze({});

/** A timer tick (or a feature's turn, `runTurn`, which has result callbacks) waiting in the mailbox. */
class TimerTurn {
  constructor(
    readonly fn: () => unknown,
    readonly done: () => void,
    readonly onResult?: (value: unknown) => void,
    readonly onError?: (err: unknown) => void,
    readonly dropped?: () => void,
  ) {}
}

/** Calls the method; small arities avoid the cost of spreading (measurable on the hot path). */
function invokeMethod(grain: Grain<unknown>, call: { readonly method: string; readonly args: unknown[] }): unknown {
  const fn = (grain as unknown as Record<string, (...a: unknown[]) => unknown>)[call.method]!;
  const a = call.args;
  switch (a.length) {
    case 0: return fn.call(grain);
    case 1: return fn.call(grain, a[0]);
    case 2: return fn.call(grain, a[0], a[1]);
    case 3: return fn.call(grain, a[0], a[1], a[2]);
    default: return fn.apply(grain, a);
  }
}


