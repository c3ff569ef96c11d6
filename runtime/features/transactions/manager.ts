/**
 * Committing, on the silo of the transaction's first writing participant (the "manager"):
 * the coordinator sends it one message with the participant list, and it runs the commit
 * there, next to its own state and the storage.
 *
 * - One writer, one changed state: one-phase commit — the readers vote (in memory), then
 *   the state's committed value is written once. 1 storage write.
 * - Otherwise two-phase: every participant prepares (writers write their pending value, in
 *   parallel; readers check their locks and let go), then the manager creates the
 *   transaction record `committed` — the commit point — then everyone applies in memory
 *   and releases. n + 1 storage writes for n writers; applying costs none (see state.ts).
 * - On abort after prepare messages went out, the record `aborted` is created, so pending
 *   values left behind resolve without waiting for their deadline.
 */
import { InconsistentStateError } from '../../errors.js';
import { abortedError, refusal, TransactionInDoubtError, type RefusalCode } from './errors.js';
import { DEAD, MSG, siloEnv, type TxnActivation, type TxnEnv } from './host.js';
import { transactionTestHooks } from './hooks.js';
import type { Participant, Vote } from './participant.js';
import { createRecord, readRecord, type Outcome, type TxnRecord } from './records.js';
import { transactionDefaults } from './options.js';
import type { TxnWire } from './txn-context.js';

/** A participant as the coordinator lists it: `[grainKey, wrote ? 1 : 0]`. */
export type PartEntry = [string, number];

export function askVote(env: TxnEnv, key: string, w: TxnWire, write: boolean): Promise<Vote> {
  return env.call(key, MSG.prepare, [w, write]).then(
    (v) => (v !== null && typeof v === 'object' && typeof (v as Vote).vote === 'string' ? (v as Vote) : { vote: 'no', reason: `${key} gave no vote` }),
    (err) => ({ vote: 'no', reason: `${key} did not answer the prepare: ${(err as Error).message}` }),
  );
}

/** Tells participants the outcome; failures are left to their recovery. */
export function notify(env: TxnEnv, keys: readonly string[], txnId: string, outcome: Outcome): Promise<void> {
  const method = outcome === 'committed' ? MSG.commit : MSG.abort;
  return Promise.all(keys.map((k) => env.call(k, method, [txnId]).catch(() => undefined))).then(() => undefined);
}

/** Handles `$txn.finish` on the manager. Resolves when committed; rejects with the abort. */
export async function finish(act: TxnActivation, p: Participant | undefined, w: TxnWire, parts: PartEntry[]): Promise<'committed'> {
  const env = siloEnv(act);
  const storage = act.host.storage;
  const clock = act.host.clock;
  const received = clock.now();
  const me = act.key;
  const t = p?.txns.get(w.id);
  const others = parts.filter(([k]) => k !== me).map(([k, wr]) => ({ key: k, wrote: wr === 1 }));
  const writers = parts.filter(([, wr]) => wr === 1);
  let preparing = false;
  /** What the record says besides the outcome, once every prepare answered: the items holding pending values. */
  let known: Pick<TxnRecord, 'dl' | 'w'> | undefined;

  const abort = async (reason: string, code: RefusalCode = 'transaction_conflict'): Promise<never> => {
    if (t !== undefined && p !== undefined) p.abortLocal(t, reason);
    if (preparing && act.status !== DEAD) {
      await createRecord(storage, w.id, 'aborted', clock.now(), known).catch((err) => p?.report('abort record', err));
    }
    // Waiting for the notifications lets the participants' locks go before the caller retries.
    await notify(env, others.map((o) => o.key), w.id, 'aborted');
    throw abortedError(w.id, refusal(w.id, reason, code));
  };

  const settled = t !== undefined ? t.status !== 'active' : p?.knownOutcome(w.id) !== undefined;
  if (p !== undefined && settled) {
    // Another delivery of this message commits it, or did (a message sent twice, a coordinator
    // asking again): its outcome is this one's. Aborting here would tell the participants
    // `aborted` after the record said `committed`.
    if (t !== undefined) await t.finished();
    const outcome = t?.outcome ?? p.knownOutcome(w.id);
    if (outcome === 'committed') return 'committed';
    throw abortedError(w.id, refusal(w.id, t?.reason ?? `it had already aborted at ${me}`));
  }
  if (t === undefined || p === undefined) {
    return abort(`${me}, its first writer, no longer knows it (the activation was lost, or it timed out)`);
  }
  if (clock.now() >= w.dl) return abort('it ran past its deadline before it could commit', 'transaction_timeout');

  if (writers.length === 1 && writers[0]![0] === me && t.writes.size === 1) {
    const votes = await Promise.all(others.map((o) => askVote(env, o.key, w, false)));
    const no = votes.find((v) => v.vote !== 'ro');
    if (no !== undefined) return abort(no.reason ?? 'a participant voted no');
    // States the manager only read are checked like any reader's (a twin may have written them).
    const stale = await p.validateReads(t);
    if (stale !== undefined) return abort(stale.reason ?? `a state ${me} read changed in storage`);
    if (t.status !== 'active') return abort(t.reason ?? `it aborted at ${me}`);
    t.status = 'committing';
    const [state] = t.writes;
    await transactionTestHooks.beforeCommit?.(w.id, 'one-phase', me);
    try {
      await state!.writeCommitted(t);
    } catch (err) {
      if (err instanceof InconsistentStateError) return abort(`${state!.describe()} changed in storage since it was read (another activation wrote it)`);
      // The write may or may not have landed: find out from the item itself.
      let outcome: Outcome;
      try {
        outcome = await p.settleUncertainOnePhase(t, state!);
      } catch (e) {
        // Settled later, when storage answers again (its locks stay until then).
        p.retryUncertainOnePhase(t, state!);
        throw new TransactionInDoubtError(`transaction ${w.id}: the commit write of ${state!.describe()} failed and its outcome is unknown: ${(err as Error).message}`, { cause: e, data: { txn: w.id } });
      }
      if (outcome === 'committed') return 'committed';
      return abort(`${state!.describe()} could not be written: ${(err as Error).message}`);
    }
    p.commitLocal(t);
    return 'committed';
  }

  preparing = true;
  const votes = await Promise.all([
    p.prepare(w, true),
    ...others.map((o) => askVote(env, o.key, w, o.wrote)),
  ]);
  const voters = [me, ...others.map((o) => o.key)];
  known = { dl: w.dl, w: votes.flatMap((v, i) => (v.vote === 'yes' ? (v.items ?? []).map((item): [string, string] => [voters[i]!, item]) : [])) };
  const no = votes.find((v) => v.vote === 'no');
  if (no !== undefined) return abort(no.reason ?? 'a participant voted no');
  await transactionTestHooks.beforeCommit?.(w.id, 'two-phase', me);
  if (act.status === DEAD) throw new Error(`${me} is no longer active; the transaction is left to recovery`);
  // Recovery may settle it `aborted` past its deadline plus the grace, and a coordinator that
  // lost contact at once; such a record is collected `recordRetentionMs` after it was created.
  // So `committed` is never created late (retention.ts): only a write in flight longer than
  // half the retention could land after that record is gone.
  const now = clock.now();
  if (now >= w.dl + transactionDefaults.recoveryGraceMs || now - received >= transactionDefaults.recordRetentionMs / 2) {
    return abort('it reached its commit point too late (past its deadline plus the recovery grace, or half the record retention after the commit began), when it may already have been settled as aborted', 'transaction_timeout');
  }

  let outcome: Outcome;
  try {
    outcome = await createRecord(storage, w.id, 'committed', clock.now(), known);
  } catch (err) {
    // Unknown whether the record was written: look, and settle it as aborted if it was not.
    try {
      outcome = (await readRecord(storage, w.id)) ?? (await createRecord(storage, w.id, 'aborted', clock.now()));
    } catch {
      throw new TransactionInDoubtError(`transaction ${w.id}: writing its commit record failed and its outcome is unknown: ${(err as Error).message}`, { cause: err, data: { txn: w.id } });
    }
  }
  if (outcome === 'aborted') return abort('recovery settled it as aborted before its commit record was written');
  await transactionTestHooks.afterCommitRecord?.(w.id, me);
  p.commitLocal(t);
  // Committed: the others apply when told. Not waited for — until then they hold their
  // locks as prepared, so nobody reads past the commit, and they recover on their own.
  void notify(env, others.filter((o) => o.wrote).map((o) => o.key), w.id, 'committed');
  return 'committed';
}
