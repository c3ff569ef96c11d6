/**
 * Retention of transaction records: a record is needed only while some item still holds a
 * pending value of its transaction (recovery asks the record what to do with it). So a
 * record is deleted (the storage port's optional `delete`) once that is no longer so:
 *
 * - a record its manager created lists every item that got a pending value (`w`): it goes
 *   as soon as none of them still holds one of its transaction — whatever the time;
 * - a record without that list (created `aborted` by recovery, or by a coordinator's resolve,
 *   neither of which knows the other participants) goes `recordRetentionMs` after it was
 *   created. Deleting an `aborted` record never changes an outcome — an item still holding
 *   such a pending value finds no record, long past the deadline, and settles it `aborted`
 *   again — provided no `committed` can be created after it: recovery creates `aborted` only
 *   past the deadline plus the grace, a resolve only after the commit message was sent, and
 *   the manager refuses to create `committed` past the deadline plus the grace or half the
 *   retention after that message reached it; so only a record write in flight (plus clock
 *   skew) for longer than half the retention could land after the record is gone.
 * - a committed record's outcome outlives it in the items: folding a committed pending value
 *   in adds its transaction to the item's recent commits (`r`), where a coordinator resolving
 *   an in-doubt commit later finds it.
 *
 * Who collects: the item that drops a pending value (its next write, or a fold write when it
 * is idle) lists the transaction in its `d` field in that same write — so the duty survives a
 * crash — and tries to collect right after; a record still held by another item is left to
 * that item, which does the same when it drops it. So at any time every record is held by
 * an item (as `p` or in `d`) or about to be deleted: records are bounded by the number of
 * transactional items, not by the number of transactions.
 */
import { decode } from '../../codec.js';
import { InconsistentStateError } from '../../errors.js';
import { parseGrainId } from '../../identity.js';
import type { StorageProvider } from '../../storage.js';
import { RECORD_STATE, recordId, type TxnRecord } from './records.js';

/**
 * What collecting a record came to: `deleted`; `gone` (no record, or someone else deleted it);
 * `held` (an item still holds its pending value: that item collects it later); `kept` (the
 * provider cannot delete); `{ notBefore }` (too young: try again then).
 */
export type Collection = 'deleted' | 'gone' | 'held' | 'kept' | { notBefore: number };

/** Whether an item's stored text holds a pending value of `txnId`; text it cannot read counts as holding it (never delete on a guess). */
function holds(payload: string, txnId: string): boolean {
  try {
    const item = decode(payload) as { p?: { t?: unknown } } | null;
    return item?.p?.t === txnId;
  } catch {
    return true;
  }
}

/**
 * Collects the record of `txnId` if it may go. `self` (`[grainKey, itemName]`) is the item
 * asking, which knows it no longer holds the pending value: not read again.
 */
export async function collectRecord(
  storage: StorageProvider, txnId: string, now: number, retentionMs: number, self?: readonly [string, string],
): Promise<Collection> {
  if (storage.delete === undefined) return 'kept';
  const id = recordId(txnId);
  const stored = await storage.read(id, RECORD_STATE);
  if (stored?.payload === undefined) return 'gone';
  const record = decode(stored.payload) as Partial<TxnRecord> | null;
  if (Array.isArray(record?.w)) {
    for (const [key, item] of record.w) {
      if (self !== undefined && key === self[0] && item === self[1]) continue;
      const held = await storage.read(parseGrainId(key), item);
      if (held?.payload !== undefined && holds(held.payload, txnId)) return 'held';
    }
  } else {
    const notBefore = (typeof record?.at === 'number' ? record.at : 0) + retentionMs;
    if (now < notBefore) return { notBefore };
  }
  try {
    await storage.delete(id, RECORD_STATE, stored.etag);
  } catch (err) {
    // Deleted (and perhaps created afresh by a recovery, whose item then holds it) meanwhile.
    if (err instanceof InconsistentStateError) return 'gone';
    throw err;
  }
  return 'deleted';
}
