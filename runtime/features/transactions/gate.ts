/**
 * Where transactions plug into the core's seams (runtime/features.ts):
 * - the protocol messages (`$txn.*`) are system messages, answered outside the mailbox;
 * - a type that declares per-method options gets an incoming call filter that enforces them
 *   and runs the method in the transaction its option asks for;
 * - each activation's participant is an activation component.
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
import { waitTimer } from '../../clock.js';
import { currentScope } from '../../context.js';
import { InvalidArgumentError, MethodNotFoundError, TimeoutError } from '../../errors.js';
import { registerGrainTypeFeature, registerSystemMessages, type ActivationFilter } from '../../features.js';
import type { GrainType } from '../../grain-type.js';
import type { PendingCall } from '../../pending-call.js';
import { runTransaction } from './coordinator.js';
import { ACTIVATING, DEAD, MSG, siloEnv, type TxnActivation, type TxnEnv } from './host.js';
import { finish, type PartEntry } from './manager.js';
import { transactionDefaults, type TransactionOption } from './options.js';
import { Participant } from './participant.js';
import { readRecord } from './records.js';
import type { TxState } from './state.js';
import { setTxn, txnOfScope, type TxnWire } from './txn-context.js';

/** Names the participant component of an activation. */
const PARTICIPANT = { name: 'transactions.participant' };

function participantOf(act: TxnActivation): Participant {
  return act.component(PARTICIPANT, () => new Participant(act));
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
const OPTIONS = new Set<string>(['create', 'join', 'createOrJoin', 'supported', 'notAllowed', 'suppress']);

/** The per-method options a class declares (`static transactions`), checked against its methods. */
function optionsOf(type: GrainType): Readonly<Record<string, TransactionOption>> {
  const options = type.cls.transactions ?? {};
  for (const [m, opt] of Object.entries(options)) {
    if (!type.methods.has(m)) throw new TypeError(`${type.name}.transactions names "${m}", which is not a callable method of ${type.name}`);
    if (!OPTIONS.has(opt)) throw new TypeError(`${type.name}.transactions.${m} must be one of ${[...OPTIONS].join(', ')}`);
  }
  return options;
}

/**
 * The incoming filter of a type with per-method options (none for a type without: every
 * method is then `supported`, and the transaction flows on with the call).
 */
function transactionFilter(type: GrainType): ActivationFilter | undefined {
  const options = optionsOf(type);
  if (Object.keys(options).length === 0) return undefined;
  return (activation) => (call, next) => {
    const option = hasOwn.call(options, call.method) ? options[call.method] : undefined;
    if (option === undefined || option === 'supported') return next();
    const scope = currentScope()!; // filters run inside the call's turn
    const inTxn = txnOfScope(scope) !== undefined;
    switch (option) {
      case 'join':
        if (!inTxn) {
          throw new InvalidArgumentError(
            `${type.name}.${call.method} joins its caller's transaction (static transactions: 'join'), but it was called outside one; call it inside client.transaction(...) or this.transaction(...), or mark it 'createOrJoin'`,
            { code: 'transaction_required' },
          );
        }
        return next();
      case 'notAllowed':
        if (inTxn) {
          throw new InvalidArgumentError(
            `${type.name}.${call.method} must not be called inside a transaction (static transactions: 'notAllowed')`,
            { code: 'transaction_not_allowed' },
          );
        }
        return next();
      case 'suppress':
        setTxn(scope, undefined);
        return next();
      case 'createOrJoin':
      case 'create':
        if (option === 'createOrJoin' && inTxn) return next();
        setTxn(scope, undefined);
        return runTransaction(siloEnv(activation as unknown as TxnActivation), next);
    }
  };
}

registerGrainTypeFeature({ name: 'transactions', describe: transactionFilter });

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
    waitTimer(act.host.clock, () => handleMessage(act, call, waited + delay), waited === 0 ? 0 : delay);
    return;
  }
  if (act.status === DEAD) {
    act.host.reroute(call);
    return;
  }
  const p = act.component<Participant>(PARTICIPANT);
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
  // Without the grain nothing here can veto it or show a pending value: no record proves
  // nothing (a committed one may have been collected; see Participant.resolve).
  return (await readRecord(act.host.storage, txnId)) ?? 'retry';
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


registerSystemMessages<TxnActivation>('txn', (act, call) => handleMessage(act, call));
