/**
 * Where transactions meet the activation: `transactionGate` (called first thing in
 * `Activation.receive`) answers protocol messages outside the mailbox and enforces the
 * per-method options that can be checked before the call runs; `transactionalInvoker`
 * (used by `Activation.start` for types that declare options) runs the method in the
 * transaction its option asks for.
 *
 * Per-method options (Orleans meanings); a method without one behaves as `supported`:
 * | option | outside a transaction | inside one |
 * | --- | --- | --- |
 * | `create` | runs in a new transaction | runs in a new, independent transaction |
 * | `createOrJoin` | runs in a new transaction | joins it |
 * | `join` | rejected: `InvalidArgumentError`, code `transaction_required` | joins it |
 * | `supported` | runs without one | joins it (the transaction flows on) |
 * | `notAllowed` | runs | rejected: `InvalidArgumentError`, code `transaction_not_allowed` |
 * | `suppress` | runs | runs outside it; calls it makes carry no transaction |
 */
import { currentScope } from '../context.js';
import { InvalidArgumentError, MethodNotFoundError, TimeoutError } from '../errors.js';
import type { PendingCall } from '../pending-call.js';
import { runTransaction } from './coordinator.js';
import { ACTIVATING, DEAD, MSG, siloEnv, type TxnActivation, type TxnEnv } from './host.js';
import { finish, type PartEntry } from './manager.js';
import { transactionDefaults } from './options.js';
import { Participant } from './participant.js';
import { createRecord, readRecord } from './records.js';
import type { TxState } from './state.js';
import { txnOfScope, type TxnWire } from './txn-context.js';

const participants = new WeakMap<object, Participant>();

function participantOf(act: TxnActivation): Participant {
  let p = participants.get(act);
  if (p === undefined) {
    p = new Participant(act);
    participants.set(act, p);
  }
  return p;
}

function asActivation(runtime: unknown): TxnActivation {
  const act = runtime as Partial<TxnActivation> | undefined;
  if (act?.host?.storage === undefined || act.host.clock === undefined || typeof act.host.reroute !== 'function') {
    throw new TypeError('transactions need a grain activated by a silo (this host does not provide storage and routing to them)');
  }
  return act as TxnActivation;
}

/** `Grain.transactionalState`: declares a transactional state of the grain being constructed. */
export function createTransactionalState<T>(runtime: unknown, name: string, init: () => T): TxState<T> {
  return participantOf(asActivation(runtime)).register(name, init);
}

/** `Grain.transaction`: runs `fn` as a transaction coordinated by this grain. */
export function grainTransactionEnv(runtime: unknown): TxnEnv {
  return siloEnv(asActivation(runtime));
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Called first in `Activation.receive` for calls that carry a transaction, name a method
 * with a transaction option, or are protocol messages. Returns true when it took the call.
 */
export function transactionGate(act: TxnActivation, call: PendingCall): boolean {
  const method = call.method;
  if (method.startsWith('$txn.')) {
    handleMessage(act, call);
    return true;
  }
  let inTxn: boolean;
  try {
    inTxn = txnOfScope(call.caller) !== undefined;
  } catch (err) {
    call.reject(err);
    return true;
  }
  const options = act.type.transactions;
  const option = hasOwn.call(options, method) ? options[method] : undefined;
  if (option === 'join' && !inTxn) {
    call.reject(new InvalidArgumentError(
      `${act.type.name}.${method} joins its caller's transaction (static transactions: 'join'), but it was called outside one; call it inside client.transaction(...) or this.transaction(...), or mark it 'createOrJoin'`,
      { code: 'transaction_required' },
    ));
    return true;
  }
  if (option === 'notAllowed' && inTxn) {
    call.reject(new InvalidArgumentError(
      `${act.type.name}.${method} must not be called inside a transaction (static transactions: 'notAllowed')`,
      { code: 'transaction_not_allowed' },
    ));
    return true;
  }
  return false;
}

type Invoke = (grain: unknown, call: PendingCall) => unknown;

function invoke(grain: unknown, call: PendingCall): unknown {
  return (grain as Record<string, (...a: unknown[]) => unknown>)[call.method]!.apply(grain, call.args);
}

/**
 * The invoker for a grain type whose methods declare `create`, `createOrJoin`, `suppress`
 * or `notAllowed` (undefined otherwise: the plain invoker serves, the transaction flowing on).
 */
export function transactionalInvoker(act: TxnActivation): Invoke | undefined {
  const options = act.type.transactions;
  const needed = Object.values(options).some((o) => o !== 'join' && o !== 'supported');
  if (!needed) return undefined;
  let env: TxnEnv | undefined;
  return (grain, call) => {
    const option = hasOwn.call(options, call.method) ? options[call.method] : undefined;
    switch (option) {
      case 'suppress':
      case 'notAllowed': {
        const scope = currentScope();
        if (scope !== undefined) scope.txn = undefined;
        return invoke(grain, call);
      }
      case 'createOrJoin':
      case 'create': {
        const scope = currentScope();
        if (option === 'createOrJoin' && txnOfScope(scope) !== undefined) return invoke(grain, call);
        if (scope !== undefined) scope.txn = undefined;
        return runTransaction(env ??= siloEnv(act), () => invoke(grain, call));
      }
      default:
        return invoke(grain, call);
    }
  };
}

// ---- protocol messages -------------------------------------------------------------

/**
 * Protocol messages bypass the mailbox, but not activation: a message that reaches an
 * activation still starting (which may yet lose the directory race to one elsewhere) waits
 * until it is valid, or is routed again once it is gone.
 */
function handleMessage(act: TxnActivation, call: PendingCall, waited = 0): void {
  if (call.settled) return;
  if (act.status === ACTIVATING) {
    if (waited > transactionDefaults.messageTimeoutMs) {
      call.reject(new TimeoutError(`${act.key} did not finish activating within ${transactionDefaults.messageTimeoutMs} ms; the transaction message ${call.method} gave up`));
      return;
    }
    const delay = Math.min(20, waited + 1);
    setTimeout(() => handleMessage(act, call, waited + delay), waited === 0 ? 0 : delay);
    return;
  }
  if (act.status === DEAD) {
    act.host.reroute(call);
    return;
  }
  const p = participants.get(act);
  const [a0, a1] = call.args;
  let work: Promise<unknown>;
  try {
    switch (call.method) {
      case MSG.prepare:
        work = p !== undefined
          ? p.prepare(wireOf(a0), a1 === true)
          : Promise.resolve({ vote: 'no', reason: `${act.key} does not know it (its activation was lost)` });
        break;
      case MSG.commit:
      case MSG.abort:
        p?.settle(idOf(a0), call.method === MSG.commit ? 'committed' : 'aborted');
        work = Promise.resolve(true);
        break;
      case MSG.finish:
        work = finish(act, p, wireOf(a0), partsOf(a1));
        break;
      case MSG.resolve:
        work = resolveHere(act, p, idOf(a0), a1 === true);
        break;
      default:
        throw new MethodNotFoundError(`unknown transaction protocol message "${call.method}"`);
    }
  } catch (err) {
    call.reject(err);
    return;
  }
  work.then((v) => call.resolve(v), (err) => call.reject(err));
}

async function resolveHere(act: TxnActivation, p: Participant | undefined, txnId: string, onePhase: boolean): Promise<string> {
  if (p !== undefined) return p.resolve(txnId, onePhase);
  // The grain is not constructed yet: a one-phase commit can only be settled by it.
  if (onePhase && act.grain === undefined) return 'retry';
  const storage = act.host.storage;
  return (await readRecord(storage, txnId)) ?? createRecord(storage, txnId, 'aborted', act.host.clock.now());
}

function idOf(x: unknown): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > 128) throw new InvalidArgumentError('malformed transaction message: expected a transaction id');
  return x;
}

function wireOf(x: unknown): TxnWire {
  const w = x as Partial<TxnWire> | null;
  if (w === null || typeof w !== 'object' || typeof w.dl !== 'number' || typeof w.lw !== 'number') {
    throw new InvalidArgumentError('malformed transaction message: expected transaction info');
  }
  idOf(w.id);
  return w as TxnWire;
}

function partsOf(x: unknown): PartEntry[] {
  if (!Array.isArray(x) || !x.every((e) => Array.isArray(e) && typeof e[0] === 'string' && (e[1] === 0 || e[1] === 1))) {
    throw new InvalidArgumentError('malformed transaction message: expected the participant list');
  }
  return x as PartEntry[];
}

