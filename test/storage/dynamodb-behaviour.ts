/**
 * What dynamoStorage does that an emulator could get wrong, run on dynalite and on DynamoDB
 * Local (the faithful one): the item layout of large states (compression, chunk items, and
 * the collection of replaced and losing chunk sets), and failures on the way to DynamoDB
 * through a real proxy (throttling and 500s retried, a lost answer recognised as ours, an
 * endpoint that never answers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { InconsistentStateError, InvalidArgumentError, Silo, SiloUnavailableError, dynamoStorage, type DynamoStorage } from 'granary';
import { encode, grainId } from 'granary/internal';
import { uniqueTable } from '../support/dynamodb.js';
import { rejection, randomBytes } from './conformance.js';
import { INTERNAL, THROTTLED, startFaultProxy, type FaultProxy } from './fault-proxy.js';

function randomText(bytes: number): string {
  return encode({ blob: randomBytes(bytes) });
}

/** Every item of a table whose key starts with `prefix`. */
async function items(s: DynamoStorage, prefix: string): Promise<Record<string, AttributeValue>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await s.client.send(new ScanCommand({ TableName: s.table, ExclusiveStartKey: start, ConsistentRead: true }));
    for (const it of page.Items ?? []) if (it.pk!.S!.startsWith(prefix)) out.push(it);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Waits until `check` holds (background chunk deletion), or fails with its last value (the cap only catches "never"). */
async function eventually<T>(get: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await get();
    if (check(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The suite against the DynamoDB at `endpoint()` (read once the file's setup ran). */
export function dynamoBehaviour(name: string, endpoint: () => string): void {
  describe(`dynamoStorage on ${name}`, () => {
    const opened: DynamoStorage[] = [];
    /** A provider closed after the suite. */
    function open(options: Partial<Parameters<typeof dynamoStorage>[0]> = {}): DynamoStorage {
      const s = dynamoStorage({ table: uniqueTable(), endpoint: endpoint(), region: 'local', ...options });
      opened.push(s);
      return s;
    }
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close()));
    });

  describe('large states', () => {
    it('over one item: split into chunk items; replaced and losing chunk sets are deleted', async () => {
      const s = open();
      await s.ensureTable();
      const id = grainId('Big', 'one');
      const pk = 'Big/one#state';
      const e1 = await s.write(id, 'state', randomText(768 * 1024), undefined);
      let all = await items(s, pk);
      const head = all.find((i) => i.pk!.S === pk)!;
      expect(Number(head.chunks!.N)).toBeGreaterThanOrEqual(3);
      expect(head.payload).toBeUndefined();
      expect(all).toHaveLength(1 + Number(head.chunks!.N));
      // Replacing it leaves only the new chunk set.
      const e2 = await s.write(id, 'state', randomText(768 * 1024), e1);
      all = await eventually(() => items(s, pk), (v) => v.length === 1 + Number(head.chunks!.N));
      expect(all).toHaveLength(1 + Number(head.chunks!.N));
      const set = all.find((i) => i.pk!.S === pk)!.chunkSet!.S!;
      expect(all.filter((i) => i.pk!.S !== pk).every((i) => i.pk!.S!.startsWith(`${pk}@${set}/`))).toBe(true);
      // A race: the loser's chunks go too.
      const race = await Promise.allSettled([s.write(id, 'state', randomText(768 * 1024), e2), s.write(id, 'state', randomText(768 * 1024), e2)]);
      expect(race.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.any(InconsistentStateError)]);
      all = await eventually(() => items(s, pk), (v) => v.length === 1 + Number(head.chunks!.N));
      expect(all).toHaveLength(1 + Number(head.chunks!.N));
      // Shrinking to a small state, then clearing, leaves just the head item.
      const e3 = (race.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<string>).value;
      const e4 = await s.write(id, 'state', '{"small":true}', e3);
      all = await eventually(() => items(s, pk), (v) => v.length === 1);
      expect(all).toHaveLength(1);
      await s.clear(id, 'state', e4);
      expect(await items(s, pk)).toHaveLength(1);
    });

    it('compressible large states are stored compressed in one item', async () => {
      const s = open();
      await s.ensureTable();
      const id = grainId('Big', 'zipped');
      const text = encode({ rows: Array.from({ length: 20_000 }, (_, i) => ({ id: i, label: `item number ${i}` })) });
      expect(text.length).toBeGreaterThan(600_000);
      const etag = await s.write(id, 'state', text, undefined);
      const all = await items(s, 'Big/zipped#state');
      expect(all).toHaveLength(1);
      expect(all[0]!.payloadZ!.B!.length).toBeLessThan(text.length / 4);
      expect(await s.read(id, 'state')).toEqual({ payload: text, etag });
    });

    it('a state above maxStateBytes fails with InvalidArgumentError naming the grain and the size', async () => {
      const s = open({ maxStateBytes: 1_000_000 });
      await s.ensureTable();
      const text = 'x'.repeat(1_500_000);
      const err = await rejection(s.write(grainId('Big', 'too-big'), 'state', text, undefined));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toContain('state "state" of Big/too-big');
      expect(err.message).toContain('1500000 bytes');
      expect((err as InvalidArgumentError).data).toMatchObject({ grain: 'Big/too-big', bytes: 1_500_000, limit: 1_000_000 });
      expect(await s.read(grainId('Big', 'too-big'), 'state')).toBeUndefined();
    });
  });

  describe('failures on the way to DynamoDB (through a real proxy)', () => {
    let proxy: FaultProxy;
    let direct: DynamoStorage;
    beforeAll(async () => {
      direct = open();
      await direct.ensureTable();
      proxy = await startFaultProxy(endpoint());
    });
    afterAll(async () => {
      await proxy?.close();
    });
    const via = (options: Partial<Parameters<typeof dynamoStorage>[0]> = {}) => open({ table: direct.table, endpoint: proxy.endpoint, ...options });

    /** Fails the first `n` requests of `op` with `fault`, then forwards. */
    function failFirst(op: string, n: number, fault: typeof THROTTLED): void {
      let left = n;
      proxy.decide = (o) => (o === op && left-- > 0 ? fault : 'forward');
    }

    it('throttling and 500s are retried with backoff until they pass', async () => {
      const s = via({ maxAttempts: 3 });
      const id = grainId('Retry', 'a');
      failFirst('PutItem', 2, INTERNAL);
      proxy.seen.clear();
      const etag = await s.write(id, 'state', '"one"', undefined);
      expect(proxy.seen.get('PutItem')).toBe(3);
      failFirst('GetItem', 2, THROTTLED);
      proxy.seen.clear();
      expect(await s.read(id, 'state')).toEqual({ payload: '"one"', etag });
      expect(proxy.seen.get('GetItem')).toBe(3);
    });

    it('persistent throttling fails after maxAttempts with SiloUnavailableError (bounded: that many tries)', async () => {
      const s = via({ maxAttempts: 3 });
      proxy.decide = () => THROTTLED;
      proxy.seen.clear();
      const err = await rejection(s.read(grainId('Retry', 'b'), 'state'));
      expect(err).toBeInstanceOf(SiloUnavailableError);
      expect(err.message).toContain(`DynamoDB at ${proxy.endpoint} throttled`);
      expect(err.message).toContain('Retry/b');
      expect(proxy.seen.get('GetItem')).toBe(3);
      proxy.decide = () => 'forward';
    });

    it('a write whose answer was lost, retried by the SDK, is recognised as ours and succeeds', async () => {
      const s = via();
      const id = grainId('Retry', 'lost');
      failFirst('PutItem', 1, 'lose-answer' as never);
      proxy.seen.clear();
      expect(await s.write(id, 'state', '"mine"', undefined)).toBe('1');
      expect(proxy.seen.get('PutItem')).toBe(2);
      failFirst('PutItem', 1, 'lose-answer' as never);
      expect(await s.write(id, 'state', '"mine again"', '1')).toBe('2');
      expect(await direct.read(id, 'state')).toEqual({ payload: '"mine again"', etag: '2' });
      // Someone else's write is still a conflict.
      await direct.write(id, 'state', '"theirs"', '2');
      expect(await rejection(s.write(id, 'state', '"late"', '2'))).toBeInstanceOf(InconsistentStateError);
    });

    it('a write that dies between its chunks and its head leaves orphaned chunks; the bounded sweep collects them, and only them', async () => {
      const id = grainId('Orphan', 'big');
      const pk = 'Orphan/big#state';
      const e1 = await direct.write(id, 'state', randomText(768 * 1024), undefined);
      const live = await items(direct, pk);
      const stored = await direct.read(id, 'state');
      // The crash: chunks land, the head write never answers (the writer is gone: nobody cleans up).
      const s = via({ requestTimeoutMs: 300, maxAttempts: 1 });
      proxy.decide = (op, body) => (op === 'PutItem' && body.includes('"chunkSet"') ? 'hang' : 'forward');
      expect(await rejection(s.write(id, 'state', randomText(768 * 1024), e1))).toBeInstanceOf(SiloUnavailableError);
      // The same for a state that never had a head.
      expect(await rejection(s.write(grainId('Orphan', 'new'), 'state', randomText(768 * 1024), undefined))).toBeInstanceOf(SiloUnavailableError);
      proxy.decide = () => 'forward';
      const orphans = (await items(direct, 'Orphan/')).length - live.length;
      expect(live).toHaveLength(4); // the head and its 3 chunks
      expect(orphans).toBe(6); // 3 + 3 chunks no head names

      // Young chunks may belong to a write in progress: kept.
      expect(await direct.collectOrphanChunks()).toMatchObject({ deleted: 0 });
      expect(await items(direct, 'Orphan/')).toHaveLength(live.length + orphans);
      // Past the age bound, in slices of 3 items: every orphan goes, the live state stays whole.
      let next: string | undefined;
      let deleted = 0;
      let slices = 0;
      do {
        const r = await direct.collectOrphanChunks({ now: Date.now() + 11 * 60_000, maxItems: 3, startAfter: next });
        expect(r.scanned).toBeLessThanOrEqual(3);
        deleted += r.deleted;
        next = r.next;
        slices++;
      } while (next !== undefined);
      expect(slices).toBeGreaterThan(1);
      expect(deleted).toBe(orphans);
      const after = await items(direct, 'Orphan/');
      expect(after.map((i) => i.pk!.S).sort()).toEqual(live.map((i) => i.pk!.S).sort());
      expect(await direct.read(id, 'state')).toEqual(stored);
    });

    it('a silo runs the sweep by itself, a slice per period: the orphans of a crashed write go, the live state stays', async () => {
      const id = grainId('Swept', 'big');
      const e1 = await direct.write(id, 'state', randomText(768 * 1024), undefined);
      const live = await items(direct, 'Swept/');
      const s = via({ requestTimeoutMs: 300, maxAttempts: 1 });
      proxy.decide = (op, body) => (op === 'PutItem' && body.includes('"chunkSet"') ? 'hang' : 'forward');
      expect(await rejection(s.write(id, 'state', randomText(768 * 1024), e1))).toBeInstanceOf(SiloUnavailableError);
      proxy.decide = () => 'forward';
      expect((await items(direct, 'Swept/')).length).toBe(live.length + 3);
      const silo = await Silo.start({ grains: [], storage: direct, storageSweep: { sliceEveryMs: 20, maxItems: 5, olderThanMs: 0 } });
      try {
        for (let i = 0; i < 500 && (await items(direct, 'Swept/')).length > live.length; i++) await new Promise((r) => setTimeout(r, 20));
      } finally {
        await silo.stop();
      }
      expect((await items(direct, 'Swept/')).map((i) => i.pk!.S).sort()).toEqual(live.map((i) => i.pk!.S).sort());
    });

    it('an endpoint that never answers fails within the configured bound, naming the endpoint', async () => {
      const s = via({ requestTimeoutMs: 300, maxAttempts: 2 });
      proxy.decide = () => 'hang';
      proxy.seen.clear();
      // (Without the request timeout, the read would wait on the hung endpoint until the test's timeout.)
      const err = await rejection(s.read(grainId('Retry', 'hang'), 'state'));
      expect(proxy.seen.get('GetItem')).toBe(2); // each attempt was cut by the timeout, then no more
      expect(err).toBeInstanceOf(SiloUnavailableError);
      expect(err.message).toContain(`DynamoDB at ${proxy.endpoint} is unreachable (`);
      expect(err.message).toContain('could not read state "state" of Retry/hang');
      proxy.decide = () => 'forward';
    });
  });
  });
}
