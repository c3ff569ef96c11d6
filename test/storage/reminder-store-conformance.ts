/**
 * The reminder storage port's conformance suite: the behaviour of `memoryReminderStore()`
 * (the port's reference), run unchanged against every reminder store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reminderPartition, type ReminderInput, type ReminderStore } from 'granary/internal';

export interface ReminderStoreUnderTest {
  store: ReminderStore;
  close?(): Promise<void>;
}

let seq = 0;
const grainOf = (label: string) => `RemConf/${label}-${Date.now().toString(36)}-${++seq}`;
const T = Date.UTC(2030, 0, 1);

function input(grain: string, name: string, dueAt: number, extra: Partial<ReminderInput> = {}): ReminderInput {
  return { grain, name, dueAt, scheduledAt: dueAt, attempt: 0, ...extra };
}

/** `count` grains whose reminders all land in one partition (found by hashing). */
function grainsIn(partition: number, partitions: number, count: number, label: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const g = `RemConf/${label}-${Date.now().toString(36)}-${i}`;
    if (reminderPartition(g, partitions) === partition) out.push(g);
  }
  return out;
}

export function reminderStoreConformance(name: string, setup: () => Promise<ReminderStoreUnderTest>): void {
  describe(`reminder store conformance: ${name}`, () => {
    let sut: ReminderStoreUnderTest;
    let store: ReminderStore;
    beforeAll(async () => {
      sut = await setup();
      store = sut.store;
    });
    afterAll(async () => { await sut?.close?.(); });

    it('put stores a reminder, get and list read it back, a second put replaces it with a new version', async () => {
      const g = grainOf('put');
      const a = await store.put(input(g, 'a', T + 1_000, { periodMs: 5_000 }));
      await store.put(input(g, 'b', T + 2_000, { cron: '0 9 * * *', timeZone: 'Europe/Paris' }));
      expect(await store.get(g, 'a')).toEqual(a);
      expect(a).toMatchObject({ grain: g, name: 'a', dueAt: T + 1_000, scheduledAt: T + 1_000, attempt: 0, periodMs: 5_000 });
      expect((await store.list(g)).map((r) => [r.name, r.dueAt, r.cron, r.timeZone])).toEqual([
        ['a', T + 1_000, undefined, undefined], ['b', T + 2_000, '0 9 * * *', 'Europe/Paris'],
      ]);
      const a2 = await store.put(input(g, 'a', T + 9_000));
      expect(a2.version).not.toBe(a.version);
      expect(await store.get(g, 'a')).toEqual(a2);
      expect((await store.get(g, 'a'))!.periodMs).toBeUndefined();
      expect(await store.get(g, 'nope')).toBeUndefined();
      expect(await store.list(grainOf('empty'))).toEqual([]);
    });

    it('remove says whether the reminder existed', async () => {
      const g = grainOf('remove');
      await store.put(input(g, 'x', T));
      expect(await store.remove(g, 'x')).toBe(true);
      expect(await store.remove(g, 'x')).toBe(false);
      expect(await store.get(g, 'x')).toBeUndefined();
    });

    it('due gives one partition\'s reminders due before a time, earliest first, at most limit', async () => {
      const p = 3 % store.partitions;
      const [g1, g2, g3] = grainsIn(p, store.partitions, 3, 'due');
      const base = T + 10 * 365 * 86_400_000 + seq * 1_000_000; // clear of other tests' reminders
      await store.put(input(g1!, 'late', base + 300));
      await store.put(input(g2!, 'early', base + 100));
      await store.put(input(g3!, 'mid', base + 200));
      await store.put(input(g3!, 'far', base + 900_000));
      const other = grainsIn((p + 1) % store.partitions, store.partitions, 1, 'other')[0]!;
      if (store.partitions > 1) await store.put(input(other, 'elsewhere', base + 150));
      const due = (await eventually(async () => {
        const d = await store.due(p, base + 1_000, 100);
        return d.filter((r) => r.dueAt >= base).length === 3 ? d : undefined;
      })).filter((r) => r.dueAt >= base);
      expect(due.map((r) => r.name)).toEqual(['early', 'mid', 'late']);
      const limited = (await store.due(p, base + 1_000, 2));
      expect(limited).toHaveLength(2);
      expect(limited[0]!.dueAt <= limited[1]!.dueAt).toBe(true);
    });

    it('advance moves a reminder on only from the version it read; without next it removes it', async () => {
      const g = grainOf('advance');
      const r = await store.put(input(g, 'p', T + 1_000, { periodMs: 1_000 }));
      expect(await store.advance(r, { dueAt: T + 3_000, scheduledAt: T + 1_000, attempt: 1 })).toBe(true);
      const moved = (await store.get(g, 'p'))!;
      expect(moved).toMatchObject({ dueAt: T + 3_000, scheduledAt: T + 1_000, attempt: 1, periodMs: 1_000 });
      expect(moved.version).not.toBe(r.version);
      // The version read before is stale now.
      expect(await store.advance(r, { dueAt: T + 5_000, scheduledAt: T + 5_000, attempt: 0 })).toBe(false);
      expect(await store.advance(r, undefined)).toBe(false);
      // Registered again meanwhile: the registration stands.
      const again = await store.put(input(g, 'p', T + 60_000));
      expect(await store.advance(moved, undefined)).toBe(false);
      expect(await store.get(g, 'p')).toEqual(again);
      expect(await store.advance(again, undefined)).toBe(true);
      expect(await store.get(g, 'p')).toBeUndefined();
      expect(await store.advance(again, undefined)).toBe(false);
    });

    it('names are free text: slashes, hashes, spaces and unicode', async () => {
      const g = grainOf('names/with#odd');
      for (const n of ['a/b', 'x#y', 'with space', 'ünï €']) await store.put(input(g, n, T));
      expect((await store.list(g)).map((r) => r.name).sort()).toEqual(['a/b', 'with space', 'x#y', 'ünï €'].sort());
    });
  });
}

/** A secondary index may lag: retry a read for a short while. */
async function eventually<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await read();
    if (v !== undefined) return v;
    if (i >= 50) throw new Error('the index never showed the reminders written');
    await new Promise((r) => setTimeout(r, 20));
  }
}
