/**
 * Running a transaction: `fn` runs with the transaction in its call scope, so every call it
 * makes carries it and every participant enlists; then the coordinator (where `fn` ran: a
 * client, or a grain's turn) asks the first writer to commit (see manager.ts), or, when
 * nothing was written, has the readers vote directly.
 *
 * When the coordinator loses contact with the manager during commit, the outcome is found
 * and made final through `$txn.resolve` (the transaction record, created `aborted` if
 * absent), and the participants are told. Only if no participant can be reached at all is
 * the caller told `TransactionInDoubtError`.
 */
import { waitTimer, type Clock } from '../../clock.js';
import { childScope, currentScope, scopeStorage } from '../../context.js';
import { abortedError, refusal, TransactionInDoubtError, type RefusalCode } from './errors.js';
import { SiloUnavailableError } from '../../errors.js';
import { MSG, type TxnEnv } from './host.js';
import { askVote, notify, type PartEntry } from './manager.js';
import { resolveRunOptions, type TransactionRunOptions } from './options.js';
import type { Outcome } from './records.js';
import { TXN, TxnContext, txnOfScope } from './txn-context.js';
import { withSpan } from '../tracing/tracing.js';

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const POOL = new Uint8Array(14 * 256);
let poolAt = POOL.length;

/**
 * A transaction id: time-ordered prefix, 14 random characters (random bytes drawn in batches).
 * A clock with its own randomness (a seeded simulation) supplies both parts.
 */
export function newTxnId(clock?: Clock): string {
  if (clock?.random !== undefined) {
    let id = clock.now().toString(36);
    for (let i = 0; i < 14; i++) id += ID_ALPHABET[Math.floor(clock.random() * 36)];
    return id;
  }
  if (poolAt + 14 > POOL.length) {
    globalThis.crypto.getRandomValues(POOL);
    poolAt = 0;
  }
  let id = Date.now().toString(36);
  for (let i = 0; i < 14; i++) id += ID_ALPHABET[POOL[poolAt++]! % 36];
  return id;
}

export async function runTransaction<T>(env: TxnEnv, fn: () => T | Promise<T>, options?: TransactionRunOptions): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError('transaction(fn) takes a function');
  const o = resolveRunOptions(options);
  const cur = currentScope();
  if (o.option === 'createOrJoin' && txnOfScope(cur) !== undefined) return await fn();
  if (cur?.turn?.resent === true) {
    // Its first run may have committed a transaction that this one would repeat; one-phase
    // commits leave no record to ask, so it cannot be told (docs/exactly-once.md).
    throw new SiloUnavailableError(`call ${cur.turn.id} to ${cur.grain ?? 'a grain'} was re-sent after its silo died while it ran, and it starts a transaction that its first run may have committed; it is not run again: find out whether the transaction took effect before retrying`, { data: { callId: cur.turn.id, reason: 'transaction_not_rerun' } });
  }
  const txn = new TxnContext(newTxnId(env.clock), env.clock.now() + o.timeoutMs, o.lockWaitMs);
  const scope = childScope(cur, { ...cur?.ext, [TXN]: txn });
  let value: T;
  try {
    value = await scopeStorage.run(scope, fn);
  } catch (err) {
    await withSpan('transaction abort', { 'granary.transaction.id': txn.id }, () => tellAll(env, txn, 'aborted'));
    throw abortedError(txn.id, err);
  }
  const [unfinished, code]: [string | undefined, RefusalCode] = txn.calls > 0
    ? ['the function returned while calls it made inside the transaction were still running (await every call)', 'transaction_conflict']
    : txn.broken !== undefined
      ? [txn.broken, txn.brokenCode]
      : env.clock.now() >= txn.deadline ? ['it ran longer than its timeout', 'transaction_timeout'] : [undefined, 'transaction_conflict'];
  if (unfinished !== undefined) {
    await withSpan('transaction abort', { 'granary.transaction.id': txn.id }, () => tellAll(env, txn, 'aborted'));
    throw abortedError(txn.id, refusal(txn.id, unfinished, code));
  }
  // Prepare and commit (or abort, when a participant votes no): spans while tracing is on.
  await withSpan('transaction commit', { 'granary.transaction.id': txn.id, 'granary.transaction.participants': txn.participants.size }, () => commit(env, txn));
  return value;
}

function partsOf(txn: TxnContext): PartEntry[] {
  return [...txn.participants].map(([k, w]) => [k, w ? 1 : 0]);
}

function tellAll(env: TxnEnv, txn: TxnContext, outcome: Outcome): Promise<void> {
  const told = new Set(txn.participants.keys());
  if (outcome === 'aborted' && txn.calls > 0) {
    // Calls still open may yet enlist participants: tell those too once the calls return
    // (the caller is not kept waiting for that; their locks would lapse at the deadline anyway).
    void txn.whenIdle().then(() => {
      const late = [...txn.participants.keys()].filter((k) => !told.has(k));
      return late.length > 0 ? notify(env, late, txn.id, outcome) : undefined;
    }).catch(() => undefined);
  }
  return notify(env, [...told], txn.id, outcome);
}

async function commit(env: TxnEnv, txn: TxnContext): Promise<void> {
  const parts = partsOf(txn);
  if (parts.length === 0) return;
  const wire = txn.toJSON();
  const writers = parts.filter(([, w]) => w === 1);
  if (writers.length === 0) {
    // Read only: each reader checks it still holds its locks and lets go. Nothing to write.
    const votes = await Promise.all(parts.map(([k]) => askVote(env, k, wire, false)));
    const no = votes.find((v) => v.vote !== 'ro');
    if (no === undefined) return;
    await tellAll(env, txn, 'aborted');
    throw abortedError(txn.id, refusal(txn.id, no.reason ?? 'a participant voted no'));
  }
  const manager = writers[0]![0];
  let failure: unknown;
  try {
    await env.call(manager, MSG.finish, [wire, parts]);
    return;
  } catch (err) {
    if ((err as { code?: string }).code === 'transaction_aborted') throw abortedError(txn.id, err);
    failure = err;
  }
  // The manager did not answer: find the outcome out, make it final, tell everyone.
  const outcome = await resolveInDoubt(env, txn.id, writers.length === 1 ? [manager] : parts.map(([k]) => k), writers.length === 1, failure);
  await tellAll(env, txn, outcome);
  if (outcome === 'aborted') throw abortedError(txn.id, failure);
}

/** Asks participants (the manager first) to settle the outcome; a few rounds, then in doubt. */
async function resolveInDoubt(env: TxnEnv, txnId: string, candidates: string[], onePhase: boolean, failure: unknown): Promise<Outcome> {
  let last: unknown = failure;
  for (let round = 0; round < 6; round++) {
    for (const key of candidates) {
      try {
        const r = await env.call(key, MSG.resolve, [txnId, onePhase]);
        if (r === 'committed' || r === 'aborted') return r;
        last = new Error(`${key} could not settle it yet (${String(r)})`);
      } catch (err) {
        last = err;
      }
    }
    // Real time, not the host clock: this waits for a silo or the network to come back
    // (simulated time in a simulation: see `Clock.waitTimer`).
    await new Promise<void>((r) => waitTimer(env.clock, r, 20 * 2 ** round));
  }
  throw new TransactionInDoubtError(
    `transaction ${txnId}: lost contact while committing (${(failure as Error)?.message ?? String(failure)}) and could not find out whether it committed (${(last as Error)?.message ?? String(last)})`,
    { cause: failure, data: { txn: txnId } },
  );
}
