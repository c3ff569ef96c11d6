/**
 * Operations: `GET /admin/reminders?grain=Type/key` behind the gateway's token, the reminder
 * metrics on `/metrics`, and the gateway refusing `receiveReminder` and `$reminder.fire`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Silo, memoryStorage } from 'granary';
import { raw } from '../gateway/helpers.js';
import { Alarm } from './grains.js';

const TOKEN = 'reminders-admin-token';
let silo: Silo;
let port: number;
const auth = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  silo = await Silo.start({ grains: [Alarm], storage: memoryStorage(), gateway: { port: 0, host: '127.0.0.1', token: TOKEN } });
  port = silo.gateway!.port;
});
afterAll(async () => { await silo?.stop(); });

it('GET /admin/reminders lists a grain\'s reminders, behind the token', async () => {
  await silo.getGrain(Alarm, 'ops').set('daily', { cron: '0 9 * * *', timeZone: 'Europe/Paris' });
  await silo.getGrain(Alarm, 'ops').set('soon', { dueMs: 3_600_000, periodMs: 60_000 });
  expect((await raw(port, 'GET', '/admin/reminders?grain=ReminderAlarm/ops')).status).toBe(401);
  const res = await raw(port, 'GET', '/admin/reminders?grain=ReminderAlarm/ops', { headers: auth });
  expect(res.status).toBe(200);
  expect(res.json.grain).toBe('ReminderAlarm/ops');
  expect(res.json.reminders.map((r: { name: string }) => r.name)).toEqual(['daily', 'soon']);
  expect(res.json.reminders[0]).toMatchObject({ name: 'daily', cron: '0 9 * * *', timeZone: 'Europe/Paris' });
  expect(new Date(res.json.reminders[1].nextAt).getTime()).toBeGreaterThan(Date.now());
  expect(res.json.reminders[1].periodMs).toBe(60_000);
  const none = await raw(port, 'GET', '/admin/reminders?grain=ReminderAlarm/nobody', { headers: auth });
  expect(none.json).toEqual({ grain: 'ReminderAlarm/nobody', reminders: [] });
});

it('a missing or malformed grain parameter is a 400 saying what to send', async () => {
  for (const q of ['', '?grain=', '?grain=NoSlash', '?grain=/key', '?grain=Type/']) {
    const res = await raw(port, 'GET', `/admin/reminders${q}`, { headers: auth });
    expect(res.status, q).toBe(400);
    expect(res.json.error.message).toContain('?grain=Type/key');
  }
});

it('the gateway never lets a caller fire a reminder', async () => {
  for (const method of ['receiveReminder', '$reminder.fire', '%24reminder.fire']) {
    const res = await raw(port, 'POST', `/grains/ReminderAlarm/ops/${method}`, { headers: { ...auth, ...json }, body: JSON.stringify({ args: ['daily', { firingId: 'x', scheduledAt: 0, attempt: 1 }] }) });
    expect(res.status, method).toBe(404);
  }
  expect(await silo.getGrain(Alarm, 'ops').received()).toEqual([]);
});

it('/metrics has the reminder firings: due, fired, failed, given up, late, and those held', async () => {
  await silo.getGrain(Alarm, 'metrics').set('now', { dueMs: 0 });
  for (let i = 0; i < 100 && silo.reminders!.counters.fired < 1; i++) await new Promise((r) => setTimeout(r, 20));
  const text = (await raw(port, 'GET', '/metrics', { headers: auth })).text;
  expect(text).toContain('granary_reminder_firings_total{outcome="due"} 1');
  expect(text).toContain('granary_reminder_firings_total{outcome="fired"} 1');
  expect(text).toContain('granary_reminder_firings_total{outcome="failed"} 0');
  expect(text).toContain('granary_reminder_firings_total{outcome="gave_up"} 0');
  expect(text).toMatch(/granary_reminder_late_firings_total \d+/);
  expect(text).toMatch(/granary_reminders_held \d+/);
});
