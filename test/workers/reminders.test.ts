/**
 * Durable reminders on Workers, in miniflare (workerd): a grain's reminders live in its
 * Durable Object and share the object's one alarm — several on one object, each firing as a
 * turn — and they survive a restart of the runtime (persisted object storage and alarm).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, InvalidArgumentError } from 'granary';
import type { Alarm, Received } from '../reminders/grains.js';
import { buildWorker, startWorker, tempDir, type RunningWorker } from './worker-host.js';

/** Polls until `check` holds (real time: the alarm is the platform's). */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const build = tempDir('granary-reminders-worker-');
const store = tempDir('granary-reminders-do-');
let worker: RunningWorker | undefined;
let client: GrainClient | undefined;

async function start(): Promise<void> {
  worker = await startWorker({ scriptPath: `${build.dir}/worker.js`, persistDir: store.dir });
  client = GrainClient.http(worker.url);
}
async function stop(): Promise<void> {
  await client?.close();
  await worker?.dispose();
  client = undefined;
  worker = undefined;
}

beforeAll(async () => {
  await buildWorker('test/workers/worker-entry.ts', `${build.dir}/worker.js`);
  await start();
}, 120_000);
afterAll(async () => {
  await stop();
  build.remove();
  store.remove();
});

const alarm = (key: string) => client!.getGrain<Alarm>('ReminderAlarm', key);

describe('reminders on Workers', () => {
  it('several reminders on one object share its alarm; each fires as a turn; one-shots go, periodic ones stay', async () => {
    const a = alarm('several');
    await a.set('third', { dueMs: 900 });
    await a.set('first', { dueMs: 300 });
    await a.set('beat', { dueMs: 600, periodMs: 1_000 });
    expect((await a.list()).map((r) => r.name)).toEqual(['beat', 'first', 'third']);
    await until(async () => (await a.received()).filter((r) => r.name === 'beat').length >= 2, 15_000, 'two beats');
    const got: Received[] = await a.received();
    const names = got.map((r) => r.name);
    expect(names.slice(0, 3)).toEqual(['first', 'beat', 'third']);
    const beats = got.filter((r) => r.name === 'beat');
    expect(beats[1]!.scheduledAt - beats[0]!.scheduledAt).toBe(1_000);
    expect(new Set(got.map((r) => r.firingId)).size).toBe(got.length);
    expect(got.every((r) => r.attempt === 1)).toBe(true);
    const left = await a.list();
    expect(left.map((r) => r.name)).toEqual(['beat']);
    expect(await a.remove('beat')).toBe(true);
    expect(await a.list()).toEqual([]);
  });

  it('GET /admin/reminders lists a grain\'s reminders from its object', async () => {
    const a = alarm('admin');
    await a.set('daily', { cron: '0 9 * * *', timeZone: 'Europe/Paris' });
    const res = await fetch(`${worker!.url}/admin/reminders?grain=ReminderAlarm/admin`);
    expect(res.status).toBe(200);
    const body = await res.json() as { grain: string; reminders: { name: string; nextAt: string; cron?: string; timeZone?: string }[] };
    expect(body.grain).toBe('ReminderAlarm/admin');
    expect(body.reminders).toHaveLength(1);
    expect(body.reminders[0]).toMatchObject({ name: 'daily', cron: '0 9 * * *', timeZone: 'Europe/Paris' });
    expect(Number.isNaN(Date.parse(body.reminders[0]!.nextAt))).toBe(false);
    expect((await fetch(`${worker!.url}/admin/reminders?grain=nope`)).status).toBe(400);
    expect((await fetch(`${worker!.url}/grains/ReminderAlarm/admin/receiveReminder`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args":[]}' })).status).toBe(404);
    expect(await a.remove('daily')).toBe(true);
  });

  it('invalid schedules reject with InvalidArgumentError, as on silos', async () => {
    const err = await alarm('invalid').set('x', { periodMs: 10 }).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err!.message).toContain('at least 1000 ms');
  });

  it('cron schedules (five fields, UTC by default) are accepted and listed', async () => {
    const a = alarm('cron');
    await a.set('every-minute', { cron: '* * * * *' });
    const [info] = await a.list();
    expect(info!.cron).toBe('* * * * *');
    expect(info!.timeZone).toBe('UTC');
    expect(info!.nextAt.getTime() % 60_000).toBe(0);
    expect(await a.remove('every-minute')).toBe(true);
  });

  it('reminders survive a restart of the runtime: persisted with the object, and its alarm fires after', async () => {
    const a = alarm('restart');
    await a.set('after-restart', { dueMs: 1_500 });
    await a.set('later', { dueMs: 60 * 60_000 });
    await stop();
    await new Promise((r) => setTimeout(r, 2_000));
    await start();
    const b = alarm('restart');
    await until(async () => (await b.received()).length >= 1, 15_000, 'the reminder after the restart');
    expect((await b.received()).map((r) => r.name)).toEqual(['after-restart']);
    expect((await b.list()).map((r) => r.name)).toEqual(['later']);
  });
});
