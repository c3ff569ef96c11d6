/**
 * A transaction as one process sees it: its identity and bounds (what travels with every
 * call made inside it), the participants found so far, and whether the part of the call tree
 * run from this process is complete.
 *
 * It rides in the call scope as the call extension `txn` (`CallScope.ext.txn`, runtime/features.ts).
 * A local callee shares the caller's object, so participants it enlists are seen at once; a
 * remote callee gets a copy (from the wire form) and its reply carries back what the copy
 * learnt (`replyInfo`), merged into the caller's object.
 * A call that fails without a reply (timeout, silo gone) leaves the coordinator unsure
 * which participants joined, so the transaction can no longer commit (`broken`).
 */
import { setExtension, type CallScope } from '../../context.js';
import { InvalidArgumentError } from '../../errors.js';
import { registerCallExtension } from '../../features.js';
import { isRefusalCode, lostTrackOf, type RefusalCode } from './errors.js';

/** What travels in `CallMessage.ext.txn`. */
export interface TxnWire {
  id: string;
  /** Deadline, epoch ms on the coordinator's clock. */
  dl: number;
  /** Bound on one lock wait, ms. */
  lw: number;
}

/** What a reply carries back (`Reply.ext.txn`). */
export interface TxnReplyInfo {
  /** Participants: `[grainKey, wrote ? 1 : 0]`. */
  p?: [string, number][];
  /** Why the transaction can no longer commit. */
  b?: string;
  /** The refusal code of `b`, when not `transaction_conflict`. */
  bc?: RefusalCode;
  /** Calls made inside the transaction that were still open when the reply left. */
  c?: number;
}

export class TxnContext {
  /** Grain key (`"type/key"`) → whether it wrote transactional state. */
  readonly participants = new Map<string, boolean>();
  /** Calls made from this process inside the transaction that have not returned yet. */
  calls = 0;
  /** Set when the transaction can no longer commit, with the reason. */
  broken: string | undefined = undefined;
  /** The refusal code that goes with `broken` (a deadline passed is `transaction_timeout`). */
  brokenCode: RefusalCode = 'transaction_conflict';
  private idleWaiters: (() => void)[] | undefined = undefined;

  constructor(readonly id: string, readonly deadline: number, readonly lockWaitMs: number) {}

  /** Records a participant (`wrote` is sticky: once a writer, always a writer). */
  join(key: string, wrote: boolean): void {
    const before = this.participants.get(key);
    if (before === undefined || (wrote && !before)) this.participants.set(key, wrote);
  }

  break(reason: string, code: RefusalCode = 'transaction_conflict'): void {
    if (this.broken !== undefined) return;
    this.broken = reason;
    this.brokenCode = code;
  }

  /** Resolves when no call made inside the transaction from this process is open. */
  whenIdle(): Promise<void> {
    if (this.calls === 0) return Promise.resolve();
    return new Promise((r) => (this.idleWaiters ??= []).push(r));
  }

  /** A call made inside the transaction returned. */
  callDone(): void {
    if (--this.calls === 0 && this.idleWaiters !== undefined) {
      const waiters = this.idleWaiters;
      this.idleWaiters = undefined;
      for (const r of waiters) r();
    }
  }

  /** The wire form: only identity and bounds travel down the call tree. */
  toJSON(): TxnWire {
    return { id: this.id, dl: this.deadline, lw: this.lockWaitMs };
  }

  /** What a reply from this process tells its caller; undefined when there is nothing. */
  replyInfo(): TxnReplyInfo | undefined {
    if (this.participants.size === 0 && this.broken === undefined && this.calls === 0) return undefined;
    const info: TxnReplyInfo = {};
    if (this.participants.size > 0) info.p = [...this.participants].map(([k, w]) => [k, w ? 1 : 0]);
    if (this.broken !== undefined) info.b = this.broken;
    if (this.broken !== undefined && this.brokenCode !== 'transaction_conflict') info.bc = this.brokenCode;
    if (this.calls > 0) info.c = this.calls;
    return info;
  }

  merge(info: TxnReplyInfo): void {
    if (Array.isArray(info.p)) for (const [k, w] of info.p) if (typeof k === 'string') this.join(k, w === 1);
    if (typeof info.b === 'string') this.break(info.b, isRefusalCode(info.bc) ? info.bc : 'transaction_conflict');
    if (typeof info.c === 'number' && info.c > 0) {
      this.break('a call made inside the transaction was still running when its caller returned (await every call made inside a transaction)');
    }
  }

  static fromWire(x: unknown): TxnContext {
    const w = x as Partial<TxnWire> | null;
    if (w === null || typeof w !== 'object' || typeof w.id !== 'string' || w.id.length === 0 || w.id.length > 128 ||
      typeof w.dl !== 'number' || typeof w.lw !== 'number') {
      throw new InvalidArgumentError('malformed transaction info in the call message');
    }
    return new TxnContext(w.id, w.dl, w.lw);
  }
}

/** The call extension key transactions ride under. */
export const TXN = 'txn';

/** The transaction a scope runs in, normalised to a `TxnContext` (a remote copy on first use). */
export function txnOfScope(scope: CallScope | undefined): TxnContext | undefined {
  const ext = scope?.ext;
  const t = ext?.[TXN];
  if (t === undefined || t === null) return undefined;
  if (t instanceof TxnContext) return t;
  const ctx = TxnContext.fromWire(t);
  // In place: every scope of this call (they share `ext`) sees the one context, and the reply finds it.
  ext![TXN] = ctx;
  return ctx;
}

/** Runs the rest of `scope`'s flow in `txn` (or, with undefined, outside any transaction). */
export function setTxn(scope: CallScope, txn: TxnContext | undefined): void {
  setExtension(scope, TXN, txn);
}

registerCallExtension({
  key: TXN,
  // A call inside a transaction is settled by the transaction: all of it commits or none.
  noResend: true,
  /**
   * A call made inside the transaction counts as open until it returns; a call whose part is
   * lost (no answer) leaves the coordinator unsure which participants joined: it cannot commit.
   */
  track(txn, result) {
    if (!(txn instanceof TxnContext)) return result;
    txn.calls++;
    return result.then(
      (v) => { txn.callDone(); return v; },
      (err) => {
        txn.callDone();
        if (lostTrackOf(err)) txn.break(`a call made inside the transaction failed without an answer: ${(err as Error).message}`);
        throw err;
      },
    );
  },
  replyInfo: (txn) => (txn instanceof TxnContext ? txn.replyInfo() : undefined),
  mergeReply(value, info) {
    let txn: TxnContext;
    try {
      txn = value instanceof TxnContext ? value : TxnContext.fromWire(value);
    } catch {
      return value; // malformed: the callee refused the call already
    }
    if (info !== null && typeof info === 'object') txn.merge(info as TxnReplyInfo);
    return txn;
  },
});
