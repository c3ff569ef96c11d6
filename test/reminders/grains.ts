/** Grains for the reminder tests: they record every tick they receive in their state. */
import { Grain, type ReminderInfo, type ReminderOptions, type ReminderTick } from 'granary';

export interface Received {
  name: string;
  firingId: string;
  scheduledAt: number;
  attempt: number;
}

/** `${grainKey}/${name}` → how many more ticks of that reminder throw (tests set it). */
export const failures = new Map<string, number>();

export class Alarm extends Grain<{ received: Received[] }> {
  static grainType = 'ReminderAlarm';
  protected override initialState() { return { received: [] as Received[] }; }
  async set(name: string, options: ReminderOptions): Promise<void> { await this.registerReminder(name, options); }
  async remove(name: string): Promise<boolean> { return this.unregisterReminder(name); }
  async list(): Promise<ReminderInfo[]> { return this.getReminders(); }
  async received(): Promise<Received[]> { return this.state.received; }
  async sleep(): Promise<void> { this.deactivateOnIdle(); }
  async receiveReminder(name: string, tick: ReminderTick): Promise<void> {
    this.state.received.push({ name, firingId: tick.firingId, scheduledAt: tick.scheduledAt.getTime(), attempt: tick.attempt });
    await this.writeState();
    const key = `${this.key}/${name}`;
    const left = failures.get(key) ?? 0;
    if (left > 0) {
      failures.set(key, left - 1);
      throw new Error(`failing ${name} on purpose (${left - 1} more)`);
    }
  }
}

/** A grain with no receiveReminder: its reminders fail. */
export class Deaf extends Grain {
  static grainType = 'ReminderDeaf';
  async set(name: string, options: ReminderOptions): Promise<void> { await this.registerReminder(name, options); }
}

/** A grain whose receiveReminder never finishes. */
export class Sleepy extends Grain {
  static grainType = 'ReminderSleepy';
  async set(name: string, options: ReminderOptions): Promise<void> { await this.registerReminder(name, options); }
  async receiveReminder(): Promise<void> { await new Promise(() => undefined); }
}
