/**
 * The reminders conformance suite on TestCluster: API.md "Durable reminders", run unchanged
 * over every storage provider that keeps reminders (memory, DynamoDB on dynalite).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, MethodNotFoundError, TestCluster, type SiloReminderOptions, type StorageProvider } from 'granary';
import { partitionOwner, reminderOwners, reminderPartition, untypedRef, type Invoker } from 'granary/internal';
import { Alarm, Deaf, Sleepy, failures } from './grains.js';

export interface ReminderStorageUnderTest {
  storage: StorageProvider;
  close?(): Promise<void>;
}

const SEC = 1_000;
const MIN = 60 * SEC;

export function remindersConformance(name: string, setup: () => Promise<ReminderStorageUnderTest>): void {
  describe(`reminders conformance: ${name}`, () => {
    let cluster: TestCluster | undefined;
    let sut: ReminderStorageUnderTest | undefined;
    let seq = 0;
    const key = (label: string) => `${label}-${Date.now().toString(36)}-${++seq}`;

    async function start(silos = 2, reminders?: SiloReminderOptions): Promise<TestCluster> {
      sut = await setup();
      cluster = await TestCluster.start({ silos, grains: [Alarm, Deaf, Sleepy], storage: sut.storage, idleTimeoutMs: 10 * MIN, reminders });
      return cluster;
    }

    afterEach(async () => {
      await cluster?.stop();
      await sut?.close?.();
      cluster = undefined;
      sut = undefined;
      failures.clear();
    });

    it('a one-shot reminder is durable when registered, fires once when due, activating its grain, and is then removed', async () => {
      const c = await start();
      const k = key('once');
      const alarm = c.client.getGrain(Alarm, k);
      await alarm.set('wake', { dueMs: 30 * SEC });
      // Durable before the call resolved: the store has it.
      expect((await c.storage.reminders!.list(`ReminderAlarm/${k}`)).map((r) => r.name)).toEqual(['wake']);
      const [info] = await alarm.list();
      expect(info).toEqual({ name: 'wake', nextAt: new Date(c.clock.now() + 30 * SEC) });
      await alarm.sleep();
      await c.settle();
      expect(c.activationCount(Alarm)).toBe(0);
      await c.advanceTime(29 * SEC);
      expect(c.activationCount(Alarm)).toBe(0);
      await c.advanceTime(2 * SEC);
      expect(c.activationCount(Alarm)).toBe(1);
      const received = await alarm.received();
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ name: 'wake', attempt: 1, scheduledAt: info!.nextAt.getTime(), firingId: `wake:${info!.nextAt.getTime()}` });
      expect(await alarm.list()).toEqual([]);
      await c.advanceTime(MIN);
      expect(await alarm.received()).toHaveLength(1);
    });

    it('at: a Date for the first firing; a periodic reminder fires every period with a firingId per tick', async () => {
      const c = await start();
      const alarm = c.client.getGrain(Alarm, key('period'));
      const at = new Date(c.clock.now() + 10 * SEC);
      await alarm.set('beat', { at, periodMs: 5 * SEC });
      expect(await alarm.list()).toEqual([{ name: 'beat', nextAt: at, periodMs: 5 * SEC }]);
      await c.advanceTime(10 * SEC + 4 * 5 * SEC + 100);
      const got = await alarm.received();
      expect(got.map((r) => r.scheduledAt - at.getTime())).toEqual([0, 5_000, 10_000, 15_000, 20_000]);
      expect(new Set(got.map((r) => r.firingId)).size).toBe(5);
      expect(got.every((r) => r.attempt === 1)).toBe(true);
      const [info] = await alarm.list();
      expect(info!.nextAt.getTime()).toBe(at.getTime() + 25 * SEC);
    });

    it('a name registered again is replaced; unregister removes it and says whether it existed', async () => {
      const c = await start();
      const alarm = c.client.getGrain(Alarm, key('replace'));
      await alarm.set('r', { dueMs: 10 * SEC });
      await alarm.set('r', { dueMs: 60 * SEC, periodMs: MIN });
      expect(await alarm.list()).toEqual([{ name: 'r', nextAt: new Date(c.clock.now() + 60 * SEC), periodMs: MIN }]);
      await c.advanceTime(30 * SEC);
      expect(await alarm.received()).toEqual([]);
      expect(await alarm.remove('r')).toBe(true);
      expect(await alarm.remove('r')).toBe(false);
      await c.advanceTime(2 * MIN);
      expect(await alarm.received()).toEqual([]);
    });

    it('a grain holds any number of reminders, each firing on its own schedule', async () => {
      const c = await start();
      const alarm = c.client.getGrain(Alarm, key('many'));
      for (let i = 0; i < 20; i++) await alarm.set(`r${String(i).padStart(2, '0')}`, { dueMs: (i + 1) * SEC });
      expect((await alarm.list()).map((r) => r.name)).toEqual(Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, '0')}`));
      await c.advanceTime(21 * SEC);
      const got = await alarm.received();
      expect(got.map((r) => r.name)).toEqual(Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, '0')}`));
      expect(await alarm.list()).toEqual([]);
    });

    it('cron: five fields in an IANA time zone (default UTC), stepped by croner', async () => {
      // Polling once a minute (ticks still fire on time: each is held behind its own timer).
      const c = await start(2, { pollMs: MIN });
      const alarm = c.client.getGrain(Alarm, key('cron'));
      // The fake clock starts at 2030-01-01T00:00Z (a Tuesday): 09:00 in Paris is 08:00Z, and
      // 01:15 in Kolkata (+05:30) is 19:45Z the day before.
      expect(new Date(c.clock.now()).toISOString()).toBe('2030-01-01T00:00:00.000Z');
      await alarm.set('paris', { cron: '0 9 * * 1-5', timeZone: 'Europe/Paris' });
      await alarm.set('kolkata', { cron: '15 1 * * *', timeZone: 'Asia/Kolkata' });
      await alarm.set('utc', { cron: '*/20 * * * *' });
      expect(await alarm.list()).toEqual([
        { name: 'kolkata', nextAt: new Date('2030-01-01T19:45:00Z'), cron: '15 1 * * *', timeZone: 'Asia/Kolkata' },
        { name: 'paris', nextAt: new Date('2030-01-01T08:00:00Z'), cron: '0 9 * * 1-5', timeZone: 'Europe/Paris' },
        { name: 'utc', nextAt: new Date('2030-01-01T00:20:00Z'), cron: '*/20 * * * *', timeZone: 'UTC' },
      ]);
      await c.advanceTime(61 * MIN);
      const got = (await alarm.received()).map((r) => `${r.name}@${new Date(r.scheduledAt).toISOString()}`);
      expect(got).toEqual(['utc@2030-01-01T00:20:00.000Z', 'utc@2030-01-01T00:40:00.000Z', 'utc@2030-01-01T01:00:00.000Z']);
      expect((await alarm.list()).find((r) => r.name === 'utc')!.nextAt).toEqual(new Date('2030-01-01T01:20:00Z'));
    });

    it('invalid schedules reject with InvalidArgumentError saying what to pass', async () => {
      const c = await start(1);
      const alarm = c.client.getGrain(Alarm, key('invalid'));
      const bad: [object, RegExp][] = [
        [{ periodMs: 999 }, /at least 1000 ms/],
        [{}, /no schedule/],
        [{ cron: '* * * * * *' }, /five fields/],
        [{ cron: '61 * * * *' }, /does not parse/],
        [{ cron: '0 9 * * *', timeZone: 'Mars/Olympus' }, /IANA time zone/],
        [{ dueMs: 1, at: new Date() }, /dueMs or at, not both/],
        [{ periodMs: 2_000, cron: '* * * * *' }, /periodMs or cron, not both/],
        [{ dueMs: -1 }, /dueMs must be/],
        [{ timeZone: 'UTC', dueMs: 5 }, /timeZone applies to a cron/],
        [{ dueMs: 5, every: 3 }, /unknown option "every"/],
      ];
      for (const [options, message] of bad) {
        const err = await alarm.set('x', options as never).then(() => undefined, (e: Error) => e);
        expect(err, JSON.stringify(options)).toBeInstanceOf(InvalidArgumentError);
        expect(err!.message).toMatch(message);
      }
      expect(await alarm.list()).toEqual([]);
    });

    it('a throwing receiveReminder is retried with backoff, keeping its firingId; a one-shot goes after success', async () => {
      const c = await start();
      const k = key('retry');
      const alarm = c.client.getGrain(Alarm, k);
      failures.set(`${k}/flaky`, 2);
      await alarm.set('flaky', { dueMs: 10 * SEC });
      await c.advanceTime(10 * SEC + 100);
      expect((await alarm.received()).map((r) => r.attempt)).toEqual([1]);
      await c.advanceTime(1 * SEC); // first retry after 1 s
      expect((await alarm.received()).map((r) => r.attempt)).toEqual([1, 2]);
      await c.advanceTime(1 * SEC);
      expect((await alarm.received()).map((r) => r.attempt)).toEqual([1, 2]); // second retry after 2 s
      await c.advanceTime(1 * SEC);
      const got = await alarm.received();
      expect(got.map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect(new Set(got.map((r) => r.firingId)).size).toBe(1);
      expect(await alarm.list()).toEqual([]);
      const metrics = c.silos.map((s) => s.renderMetrics()).join('\n');
      expect(sumOf(metrics, 'granary_reminder_firings_total{outcome="failed"}')).toBe(2);
      expect(sumOf(metrics, 'granary_reminder_firings_total{outcome="fired"}')).toBe(1);
      expect(sumOf(metrics, 'granary_reminder_firings_total{outcome="due"}')).toBe(3);
    });

    it('a grain without receiveReminder fails its firings (retried, then given up) without harming others', async () => {
      const c = await start(1, { retry: { maxAttempts: 4 } });
      await c.client.getGrain(Deaf, key('deaf')).set('x', { dueMs: SEC });
      const alarm = c.client.getGrain(Alarm, key('fine'));
      await alarm.set('ok', { dueMs: 2 * SEC });
      await c.advanceTime(MIN); // retries after 1, 2 and 4 s, then given up
      expect(await alarm.received()).toHaveLength(1);
      const metrics = c.silos[0]!.renderMetrics();
      expect(sumOf(metrics, 'granary_reminder_firings_total{outcome="gave_up"}')).toBe(1);
      expect(sumOf(metrics, 'granary_reminder_firings_total{outcome="failed"}')).toBe(4);
    });

    it('a receiveReminder that never finishes counts as failed after the firing timeout, and others still fire', async () => {
      const c = await start(1, { firingTimeoutMs: 2 * SEC });
      await c.client.getGrain(Sleepy, key('sleepy')).set('z', { dueMs: SEC });
      const alarm = c.client.getGrain(Alarm, key('awake'));
      await alarm.set('ok', { dueMs: 2 * SEC });
      await c.advanceTime(4 * SEC);
      expect(await alarm.received()).toHaveLength(1);
      const metrics = c.silos[0]!.renderMetrics();
      expect(sumOf(metrics, 'granary_reminder_firings_total{outcome="failed"}')).toBeGreaterThanOrEqual(1);
    });

    it('ticks missed while no silo ran fire once on recovery, not in a burst', async () => {
      const c = await start(1);
      const alarm = c.client.getGrain(Alarm, key('missed'));
      await alarm.set('p', { dueMs: 10 * SEC, periodMs: 10 * SEC });
      const first = c.clock.now() + 10 * SEC;
      await c.killSilo(0);
      await c.advanceTime(95 * SEC); // nine ticks missed
      await c.startSilo();
      await c.advanceTime(2 * SEC);
      const got = await alarm.received();
      expect(got.map((r) => r.scheduledAt)).toEqual([first]);
      const [info] = await alarm.list();
      expect(info!.nextAt.getTime()).toBe(first + 90 * SEC); // the next regular tick after now
      await c.advanceTime(10 * SEC);
      expect((await alarm.received()).map((r) => r.scheduledAt)).toEqual([first, first + 90 * SEC]);
    });

    it('killing the silo that owns a reminder moves it: it keeps firing on another silo', async () => {
      const c = await start(3);
      const k = key('moved');
      const alarm = c.client.getGrain(Alarm, k);
      await alarm.set('p', { dueMs: 5 * SEC, periodMs: 5 * SEC });
      const partition = reminderPartition(`ReminderAlarm/${k}`, c.storage.reminders!.partitions);
      const ownerId = partitionOwner(partition, reminderOwners(c.silos[0]!.connection.membership.live()));
      const owner = c.silos.find((s) => s.id === ownerId)!;
      await c.advanceTime(5 * SEC + 100);
      expect(await alarm.received()).toHaveLength(1);
      expect(owner.reminders!.counters.fired).toBe(1);
      await c.killSilo(owner);
      await c.advanceTime(3 * 5 * SEC);
      const got = await alarm.received();
      expect(got).toHaveLength(4);
      expect(new Set(got.map((r) => r.firingId)).size).toBe(4);
      expect(c.silos.reduce((n, s) => n + s.reminders!.counters.fired, 0)).toBe(3);
    });

    it('a graceful stop hands the partitions over too', async () => {
      const c = await start(2);
      const alarm = c.client.getGrain(Alarm, key('handover'));
      await alarm.set('p', { dueMs: 5 * SEC, periodMs: 5 * SEC });
      await c.stopSilo(0);
      await c.advanceTime(10 * SEC + 100);
      expect(await alarm.received()).toHaveLength(2);
    });

    it('a silo holds in memory only the reminders due soon', async () => {
      const c = await start(2);
      for (let g = 0; g < 20; g++) {
        const alarm = c.client.getGrain(Alarm, key(`far${g}`));
        for (let i = 0; i < 10; i++) await alarm.set(`r${i}`, { dueMs: 24 * 60 * MIN + i * SEC });
      }
      const soon = c.client.getGrain(Alarm, key('soon'));
      await soon.set('s', { dueMs: 1_500 });
      await c.advanceTime(100);
      expect(c.silos.reduce((n, s) => n + s.reminders!.counters.held, 0)).toBe(1);
      await c.advanceTime(2 * SEC);
      expect(await soon.received()).toHaveLength(1);
      expect(c.silos.reduce((n, s) => n + s.reminders!.counters.held, 0)).toBe(0);
    });

    it('receiveReminder is never callable by clients', async () => {
      const c = await start(1);
      const k = key('forbidden');
      await c.client.getGrain(Alarm, k).set('x', { dueMs: MIN });
      // A reference that sends any method name (a typed one would not even offer it).
      const invoker = (c.client as unknown as { transport: Invoker }).transport;
      const untyped = untypedRef('ReminderAlarm', k, invoker) as { receiveReminder(n: string, t: unknown): Promise<void> };
      const err = await untyped.receiveReminder('x', { firingId: 'x:1', scheduledAt: new Date(), attempt: 1 }).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(MethodNotFoundError);
      expect(await c.client.getGrain(Alarm, k).received()).toEqual([]);
    });
  });
}

function sumOf(text: string, series: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) n += Number(line.slice(series.length + 1));
  return n;
}


