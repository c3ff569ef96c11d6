/**
 * Journals of journaled grains on DynamoDB (the journal port, runtime/journal-storage.ts),
 * in a table of their own (`<table>_journal`: partition key `pk` S, sort key `n` N), since
 * the state table has no sort key to Query by. Per grain, partition `pk = "type/key"`:
 *
 * | item | `n` | attributes |
 * | --- | --- | --- |
 * | batch appended at version `v` | `2v` | `count` N, `ev` N (eventVersion), `writeId` S, `events` L of S and `calls` S (the call record, when there is one) — or, above one item, `parts` N + `partSet` S |
 * | snapshot at version `v` | `2v − 1` | `ev` N, `state` S, `calls` S — or `parts` N + `partSet` S (+ `callsIn` S = "parts") |
 * | part `i` of a large batch or snapshot | partition `"type/key@<partSet>"`, `n = i` | `data` B (a slice of the UTF-8 JSON of the events — or of `{ events, calls }` — or of the state text — or of `{ state, calls }` when `callsIn` says so) |
 *
 * - **A confirm is one conditional PutItem**: the batch item at `n = 2v` with
 *   `attribute_not_exists(pk)`. Every version an activation can hold is a batch boundary of
 *   the one chain of batches from 0, so two appenders from the same version collide on the
 *   same key: exactly one wins (no TransactWriteItems, which dynalite lacks).
 * - **The call record commits with the events** (exactly-once, runtime/call-log.ts): it is an
 *   attribute of the batch item, or rides in its parts when the two together outgrow an item.
 * - **Large batches stay atomic**: the parts are written first under a fresh `partSet`, then
 *   the batch item naming them — the commit point. Parts without their batch item are never
 *   read (a loser's are deleted, best effort), so a reader sees all of a batch or none of it.
 * - **Loading is one Query**: descending from the end of the partition, strongly consistent,
 *   sized by the grain's snapshot interval, stopping at the first snapshot item (odd `n`
 *   sorts a snapshot just before the batch that follows it). Replay thus reads what came after
 *   the latest snapshot, however long the journal is.
 * - Snapshots are plain PutItems (the state at a version is the same whoever writes it); a
 *   crash between an append and its snapshot loses nothing, since the events stay.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand,
  type AttributeValue, type DynamoDBClient, type QueryCommandInput, type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import {
  GrainError, InvalidArgumentError, checkJournalBatch, journalConflict,
  type GrainId, type JournalBatch, type JournalSnapshot, type JournalStorage, type LoadedJournal,
} from '../../runtime/index.js';
import { TableNotFoundError, createTableCommand, storageError } from './errors.js';
import type { ResolvedOptions } from './options.js';

/** Item size budget: DynamoDB's limit is 400 KB with names and keys; keep well under it. */
const MAX_INLINE_BYTES = 350_000;
const PART_BYTES = 350_000;
/** Per-element overhead counted for an `events` list entry (type byte, length; generous). */
const LIST_ENTRY_OVERHEAD = 4;

const J = { pk: 'pk', n: 'n', count: 'count', ev: 'ev', events: 'events', state: 'state', parts: 'parts', partSet: 'partSet', writeId: 'writeId', data: 'data', calls: 'calls', callsIn: 'callsIn' } as const;

type Item = Record<string, AttributeValue>;

export function dynamoJournal(client: DynamoDBClient, o: ResolvedOptions): JournalStorage {
  const table = o.journalTable;
  const cleanups = new Set<Promise<unknown>>();

  function failed(err: unknown, what: string, mayHaveApplied = false): GrainError {
    if ((err as { name?: string })?.name === 'ResourceNotFoundException') {
      return new TableNotFoundError(
        `DynamoDB table "${table}" (the journal table of journaled grains) does not exist at ${o.describeEndpoint} (region ${o.region}). `
          + `Create it once with \`${createTableCommand(o)}\` or \`await dynamoStorage({...}).ensureTable()\`, which create the journal table as well`,
        { cause: err, data: { table, endpoint: o.describeEndpoint, region: o.region } },
      );
    }
    return storageError(err, o, what, mayHaveApplied);
  }

  async function query(input: Omit<QueryCommandInput, 'TableName' | 'ConsistentRead'>, what: string): Promise<QueryCommandOutput> {
    try {
      return await client.send(new QueryCommand({ TableName: table, ConsistentRead: true, ...input }));
    } catch (err) {
      throw failed(err, what);
    }
  }

  /** The bytes of a split batch or snapshot, in order; `undefined` when a part is missing. */
  async function readParts(pk: string, set: string, count: number, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let start: Item | undefined;
    do {
      const out = await query({
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': J.pk },
        ExpressionAttributeValues: { ':pk': { S: partKey(pk, set) } },
        ExclusiveStartKey: start,
      }, what);
      for (const item of out.Items ?? []) chunks.push(Buffer.from(item[J.data]?.B ?? new Uint8Array()));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    if (chunks.length !== count) throw broken(pk, `a split item names ${count} parts in set ${set}, and ${chunks.length} exist`);
    return Buffer.concat(chunks);
  }

  async function writeParts(pk: string, bytes: Buffer, what: string): Promise<{ set: string; count: number }> {
    const set = randomUUID();
    const count = Math.ceil(bytes.length / PART_BYTES);
    try {
      await Promise.all(Array.from({ length: count }, (_, i) => client.send(new PutItemCommand({
        TableName: table,
        Item: { [J.pk]: { S: partKey(pk, set) }, [J.n]: { N: String(i) }, [J.data]: { B: bytes.subarray(i * PART_BYTES, (i + 1) * PART_BYTES) } },
      }))));
    } catch (err) {
      discardParts(pk, set, count);
      throw failed(err, what);
    }
    return { set, count };
  }

  /** Deletes parts no batch item names (a lost race), in the background, best effort. */
  function discardParts(pk: string, set: string, count: number): void {
    const p = Promise.all(Array.from({ length: count }, (_, i) => client.send(new DeleteItemCommand({
      TableName: table, Key: { [J.pk]: { S: partKey(pk, set) }, [J.n]: { N: String(i) } },
    })))).catch(() => undefined);
    cleanups.add(p);
    void p.finally(() => cleanups.delete(p));
  }

  /** The batches of `items`, in order; only split ones cost a further read (the common case stays synchronous). */
  async function batchesOf(pk: string, items: Item[], what: string): Promise<JournalBatch[]> {
    const out: JournalBatch[] = new Array(items.length);
    const split: Promise<void>[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const from = Number(item[J.n]!.N) / 2;
      const list = item[J.events]?.L;
      if (list !== undefined) {
        out[i] = checked(pk, item, from, list.map((v) => v.S ?? ''), item[J.calls]?.S);
      } else if (item[J.partSet]?.S !== undefined) {
        split.push(readParts(pk, item[J.partSet]!.S!, Number(item[J.parts]!.N), what).then((bytes) => {
          // The events alone (an array), or the events and the call record.
          const parsed = JSON.parse(bytes.toString('utf8')) as string[] | { events: string[]; calls: string };
          out[i] = Array.isArray(parsed) ? checked(pk, item, from, parsed, undefined) : checked(pk, item, from, parsed.events, parsed.calls);
        }));
      } else {
        throw broken(pk, `the batch item at version ${from} has no events`);
      }
    }
    if (split.length > 0) await Promise.all(split);
    return out;
  }

  async function snapshotOf(pk: string, item: Item, what: string): Promise<JournalSnapshot> {
    const version = (Number(item[J.n]!.N) + 1) / 2;
    const eventVersion = Number(item[J.ev]?.N ?? 1);
    const inline = item[J.state]?.S;
    if (inline !== undefined) return withCalls<JournalSnapshot>({ version, payload: inline, eventVersion }, item[J.calls]?.S);
    const text = (await readParts(pk, item[J.partSet]!.S!, Number(item[J.parts]!.N), what)).toString('utf8');
    if (item[J.callsIn]?.S !== 'parts') return withCalls<JournalSnapshot>({ version, payload: text, eventVersion }, item[J.calls]?.S);
    const { state, calls } = JSON.parse(text) as { state: string; calls: string };
    return withCalls<JournalSnapshot>({ version, payload: state, eventVersion }, calls);
  }

  return {
    async load(id, hint): Promise<LoadedJournal> {
      const pk = journalKey(id);
      const what = `load the journal of ${pk}`;
      const batchItems: Item[] = [];
      let snapItem: Item | undefined;
      let start: Item | undefined;
      // From the end backwards, to the first snapshot: a page sized by the snapshot interval
      // holds it in one Query, unless a snapshot write failed (then the next pages do).
      outer: do {
        const out = await query({
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': J.pk },
          ExpressionAttributeValues: { ':pk': { S: pk } },
          ScanIndexForward: false,
          ExclusiveStartKey: start,
          ...(hint !== undefined ? { Limit: hint + 2 } : {}),
        }, what);
        for (const item of out.Items ?? []) {
          if (Number(item[J.n]!.N) % 2 !== 0) { snapItem = item; break outer; }
          batchItems.push(item);
        }
        start = out.LastEvaluatedKey;
      } while (start !== undefined);
      batchItems.reverse();
      const [snapshot, batches] = await Promise.all([
        snapItem === undefined ? undefined : snapshotOf(pk, snapItem, what),
        batchesOf(pk, batchItems, what),
      ]);
      return { snapshot, batches };
    },

    async readEvents(id, from, to) {
      const pk = journalKey(id);
      const what = `read events ${from}–${to} of ${pk}`;
      if (to <= from) return [];
      // The batch holding `from` starts at or before it: the nearest batch item at or below 2·from.
      let first = 0;
      if (from > 0) {
        let start: Item | undefined;
        find: do {
          const out = await query({
            KeyConditionExpression: '#pk = :pk AND #n <= :n',
            ExpressionAttributeNames: { '#pk': J.pk, '#n': J.n },
            ExpressionAttributeValues: { ':pk': { S: pk }, ':n': { N: String(2 * from) } },
            ScanIndexForward: false,
            ProjectionExpression: '#n',
            Limit: 4,
            ExclusiveStartKey: start,
          }, what);
          for (const item of out.Items ?? []) {
            const n = Number(item[J.n]!.N);
            if (n % 2 === 0) { first = n; break find; }
          }
          start = out.LastEvaluatedKey;
        } while (start !== undefined);
      }
      const items: Item[] = [];
      let start: Item | undefined;
      do {
        const out = await query({
          KeyConditionExpression: '#pk = :pk AND #n BETWEEN :a AND :b',
          ExpressionAttributeNames: { '#pk': J.pk, '#n': J.n },
          ExpressionAttributeValues: { ':pk': { S: pk }, ':a': { N: String(first) }, ':b': { N: String(2 * to - 2) } },
          ExclusiveStartKey: start,
        }, what);
        for (const item of out.Items ?? []) if (Number(item[J.n]!.N) % 2 === 0) items.push(item);
        start = out.LastEvaluatedKey;
      } while (start !== undefined);
      return batchesOf(pk, items, what);
    },

    async append(id, batch) {
      checkJournalBatch(id, batch);
      const pk = journalKey(id);
      const what = `append ${batch.events.length} event(s) at version ${batch.from} to the journal of ${pk}`;
      let bytes = 0;
      for (const e of batch.events) bytes += Buffer.byteLength(e, 'utf8') + LIST_ENTRY_OVERHEAD;
      if (bytes > o.maxStateBytes) throw tooLarge(pk, `a batch of ${batch.events.length} events`, bytes, o.maxStateBytes);
      const writeId = randomUUID();
      const item: Item = {
        [J.pk]: { S: pk },
        [J.n]: { N: String(2 * batch.from) },
        [J.count]: { N: String(batch.events.length) },
        [J.ev]: { N: String(batch.eventVersion) },
        [J.writeId]: { S: writeId },
      };
      let parts: { set: string; count: number } | undefined;
      const calls = batch.calls;
      // The call record is not the caller's data: it does not count against maxStateBytes, only towards the item size.
      const callsBytes = calls !== undefined ? Buffer.byteLength(calls, 'utf8') : 0;
      if (bytes + callsBytes <= MAX_INLINE_BYTES) {
        item[J.events] = { L: batch.events.map((e) => ({ S: e })) };
        if (calls !== undefined) item[J.calls] = { S: calls };
      } else {
        // Too big for one item: the parts first, then the batch item that names them (the commit point).
        const content = calls !== undefined ? { events: batch.events, calls } : batch.events;
        parts = await writeParts(pk, Buffer.from(JSON.stringify(content), 'utf8'), what);
        item[J.parts] = { N: String(parts.count) };
        item[J.partSet] = { S: parts.set };
      }
      try {
        await client.send(new PutItemCommand({
          TableName: table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': J.pk },
        }));
      } catch (err) {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') {
          if (parts !== undefined && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== undefined) discardParts(pk, parts.set, parts.count);
          throw failed(err, what, true);
        }
        // The SDK may have retried an append whose first attempt landed (its answer was
        // lost): then the stored batch is ours and the append succeeded.
        const stored = await client.send(new GetItemCommand({
          TableName: table,
          Key: { [J.pk]: { S: pk }, [J.n]: { N: String(2 * batch.from) } },
          ConsistentRead: true,
          ProjectionExpression: '#w',
          ExpressionAttributeNames: { '#w': J.writeId },
        })).catch(() => undefined);
        if (stored?.Item?.[J.writeId]?.S === writeId) return;
        if (parts !== undefined) discardParts(pk, parts.set, parts.count);
        throw journalConflict(id, `beyond ${batch.from}`, batch.from);
      }
    },

    async writeSnapshot(id, snapshot) {
      const pk = journalKey(id);
      const what = `write the snapshot at version ${snapshot.version} of ${pk}`;
      if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 1) {
        throw new InvalidArgumentError(`snapshot of ${pk} at version ${snapshot.version}: a snapshot's version is a whole number >= 1`);
      }
      const bytes = Buffer.byteLength(snapshot.payload, 'utf8');
      if (bytes > o.maxStateBytes) throw tooLarge(pk, 'a snapshot', bytes, o.maxStateBytes);
      const item: Item = {
        [J.pk]: { S: pk },
        [J.n]: { N: String(2 * snapshot.version - 1) },
        [J.ev]: { N: String(snapshot.eventVersion) },
      };
      const calls = snapshot.calls;
      const callsBytes = calls !== undefined ? Buffer.byteLength(calls, 'utf8') : 0;
      if (bytes + callsBytes <= MAX_INLINE_BYTES) {
        item[J.state] = { S: snapshot.payload };
        if (calls !== undefined) item[J.calls] = { S: calls };
      } else {
        const text = calls !== undefined ? JSON.stringify({ state: snapshot.payload, calls }) : snapshot.payload;
        const parts = await writeParts(pk, Buffer.from(text, 'utf8'), what);
        item[J.parts] = { N: String(parts.count) };
        item[J.partSet] = { S: parts.set };
        if (calls !== undefined) item[J.callsIn] = { S: 'parts' };
      }
      try {
        await client.send(new PutItemCommand({ TableName: table, Item: item }));
      } catch (err) {
        throw failed(err, what, true);
      }
    },
  };
}

function checked(pk: string, item: Item, from: number, events: string[], calls: string | undefined): JournalBatch {
  const ev = Number(item[J.ev]?.N ?? NaN);
  const count = Number(item[J.count]?.N ?? NaN);
  if (!(ev >= 1) || events.length !== count) throw broken(pk, `the batch item at version ${from} holds ${events.length} events and says ${count}`);
  return withCalls<JournalBatch>({ from, events, eventVersion: ev }, calls);
}

/** `x` with its call record, when it has one (no `calls: undefined` key). */
function withCalls<T extends { calls?: string }>(x: T, calls: string | undefined): T {
  if (calls !== undefined) x.calls = calls;
  return x;
}

/** The partition of a grain's journal. */
export function journalKey(id: GrainId): string {
  return `${id.type}/${id.key}`;
}

function partKey(pk: string, set: string): string {
  return `${pk}@${set}`;
}

function broken(pk: string, what: string): GrainError {
  return new GrainError('storage_error', `the journal of ${pk} is broken: ${what}; was the journal table changed by something other than granary?`);
}

function tooLarge(pk: string, what: string, bytes: number, limit: number): InvalidArgumentError {
  return new InvalidArgumentError(`${pk}: ${what} is ${bytes} bytes of codec text, more than the ${limit} the DynamoDB storage accepts (maxStateBytes); nothing was written. Raise smaller events, or keep large blobs elsewhere and put a reference in the event`,
    { data: { grain: pk, bytes, limit } });
}
