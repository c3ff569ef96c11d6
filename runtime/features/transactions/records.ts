/**
 * The durable side of the protocol, on the storage port's single-item conditional writes:
 *
 * - a transactional state item (state name `txn:<name>` of its grain) holds the committed
 *   value and version, and at most one pending (prepared) value tagged with its transaction
 *   id — the durable lock;
 * - a transaction record (grain id `$txn/<txn id>`, state `record`) says `committed` or
 *   `aborted`. It is only ever created (ETag `undefined`), never overwritten, so the
 *   coordinator's `committed` and a recovering participant's `aborted` race safely: the
 *   first write wins and the loser reads the winner. It is deleted once no item holds a
 *   pending value of its transaction any more (retention.ts).
 */
import { decode, encode, type DecodeOptions } from '../../codec.js';
import { InconsistentStateError, InvalidArgumentError } from '../../errors.js';
import { grainId, type GrainId } from '../../identity.js';
import type { StorageProvider } from '../../storage.js';

/** What one transactional state item stores. */
export interface StateItem {
  /** Committed value. */
  v: unknown;
  /** Committed version: how many transactions changed it. */
  n: number;
  /**
   * Ids of the latest commits this item took part in (newest last): one-phase commits, and
   * two-phase ones once their pending value is folded in. How an in-doubt commit is found
   * after its record is gone.
   */
  r?: string[];
  /** The pending (prepared) value of transaction `t`, whose deadline is `dl`. */
  p?: { t: string; v: unknown; dl: number };
  /**
   * Transactions whose pending value this item dropped (folded in or discarded) and whose
   * records it still has to collect (retention.ts); at most `COLLECT_LIMIT`.
   */
  d?: string[];
}

/** What a transaction record stores. */
export interface TxnRecord {
  s: Outcome;
  /** When it was created (epoch ms, creator's clock). */
  at: number;
  /** The transaction's deadline (records its manager creates). */
  dl?: number;
  /**
   * Every item that got a pending value of the transaction, `[grainKey, itemName]` (records its
   * manager creates after prepare): the record may go once none of them still holds it.
   */
  w?: [string, string][];
}

export type Outcome = 'committed' | 'aborted';

/** How many one-phase commit ids an item remembers. */
export const RECENT_COMMITS = 16;

export const RECORD_TYPE = '$txn';
export const RECORD_STATE = 'record';

export function stateItemName(name: string): string {
  return `txn:${name}`;
}

export function encodeItem(item: StateItem): string {
  return encode(item);
}

export function decodeItem(text: string, options: DecodeOptions, what: string): StateItem {
  const x = decode(text, options) as Partial<StateItem> | null;
  if (x === null || typeof x !== 'object' || typeof x.n !== 'number' || !('v' in x)) {
    throw new InvalidArgumentError(`${what} does not hold a transactional state item; was the state name used by non-transactional code?`);
  }
  return x as StateItem;
}

export function recordId(txnId: string): GrainId {
  return grainId(RECORD_TYPE, txnId);
}

/** The recorded outcome of a transaction, or undefined when there is no record (yet). */
export async function readRecord(storage: StorageProvider, txnId: string): Promise<Outcome | undefined> {
  const stored = await storage.read(recordId(txnId), RECORD_STATE);
  if (stored?.payload === undefined) return undefined;
  const rec = decode(stored.payload) as { s?: unknown } | null;
  return rec?.s === 'committed' ? 'committed' : 'aborted';
}

/**
 * Creates the record with `outcome` unless one exists; resolves to the outcome that stands
 * (the existing one when another writer was first). Other storage errors reject: the
 * caller does not know whether the record was written.
 */
export async function createRecord(
  storage: StorageProvider, txnId: string, outcome: Outcome, at: number, known?: Pick<TxnRecord, 'dl' | 'w'>,
): Promise<Outcome> {
  try {
    const record: TxnRecord = { s: outcome, at, ...known };
    await storage.write(recordId(txnId), RECORD_STATE, encode(record), undefined);
    return outcome;
  } catch (err) {
    if (!(err instanceof InconsistentStateError)) throw err;
    const existing = await readRecord(storage, txnId);
    if (existing === undefined) throw err;
    return existing;
  }
}
