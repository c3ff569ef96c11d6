/**
 * Operations: `GET /admin/reminders?grain=Type/key` lists a grain's durable reminders as
 * JSON (`{ grain, reminders: [{ name, nextAt, periodMs?, cron?, timeZone? }] }`), behind the
 * gateway's token and hook like the grain routes. Absent on the backend: 404.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import type { ReminderInfo } from '../../runtime/features/reminders/schedule.js';
import type { GatewayEnv } from './env.js';
import { HttpError } from './http-errors.js';

export interface GatewayReminders {
  /** The grain's reminders (`grain` is `"type/key"`). */
  list(grain: string): Promise<ReminderInfo[]>;
}

export const REMINDERS_ROUTE = '/admin/reminders';

export function reminderRoutes(app: Hono<GatewayEnv>, reminders: GatewayReminders | undefined, guards: MiddlewareHandler<GatewayEnv>[]): void {
  for (const guard of guards) app.get(REMINDERS_ROUTE, guard);
  app.get(REMINDERS_ROUTE, async (c) => {
    if (reminders === undefined) throw new HttpError('not_found', 'this gateway\'s host keeps no reminders');
    const grain = c.req.query('grain');
    const slash = grain === undefined ? -1 : grain.indexOf('/');
    if (grain === undefined || slash < 1 || slash === grain.length - 1) {
      throw new HttpError('invalid_argument', `GET ${REMINDERS_ROUTE} needs ?grain=Type/key (got ${grain === undefined ? 'none' : JSON.stringify(grain)})`);
    }
    const list = await reminders.list(grain);
    return c.json({
      grain,
      reminders: list.map((r) => ({ ...r, nextAt: r.nextAt.toISOString() })),
    });
  });
}
