/**
 * Shared by bench/reminders.ts and its silo child (bench/_reminders-silo.ts): the grain, and
 * a reminder store that lives in another process, reached over Node's IPC channel, so the
 * silo's resident memory is measured without the store's (as with DynamoDB in production).
 */
import type { ChildProcess } from 'node:child_process';
import { Grain, type ReminderTick } from 'granary';
import type { ReminderStore } from 'granary/internal';

/** Lateness of each firing (ms after its scheduled time), for the bench to read. */
export const lateness: number[] = [];

export class BenchAlarm extends Grain {
  static grainType = 'BenchAlarm';
  async touch(): Promise<void> {}
  async set(name: string, dueMs: number): Promise<void> { await this.registerReminder(name, { dueMs }); }
  async receiveReminder(_name: string, tick: ReminderTick): Promise<void> {
    lateness.push(Date.now() - tick.scheduledAt.getTime());
  }
}

interface StoreRequest { id: number; op: keyof ReminderStore; args: unknown[] }
interface StoreReply { id: number; result?: unknown; error?: string }

/** Serves `store` to a child over its IPC channel. */
export function serveStore(child: ChildProcess, store: ReminderStore): void {
  child.on('message', (m: StoreRequest) => {
    if (m === null || typeof m !== 'object' || typeof m.id !== 'number') return;
    const fn = store[m.op] as (...a: unknown[]) => Promise<unknown>;
    fn.apply(store, m.args).then(
      (result) => child.connected && child.send({ id: m.id, result } satisfies StoreReply),
      (err) => child.connected && child.send({ id: m.id, error: String(err) } satisfies StoreReply),
    );
  });
}

/** The store served by the parent process (this process must have been forked with IPC). */
export function parentStore(partitions: number): ReminderStore {
  let seq = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  process.on('message', (m: StoreReply) => {
    const w = waiting.get(m.id);
    if (w === undefined) return;
    waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve(m.result);
  });
  const call = (op: keyof ReminderStore) => (...args: unknown[]) => new Promise((resolve, reject) => {
    const id = ++seq;
    waiting.set(id, { resolve, reject });
    process.send!({ id, op, args } satisfies StoreRequest);
  });
  return {
    partitions,
    put: call('put'), remove: call('remove'), get: call('get'), list: call('list'), due: call('due'), advance: call('advance'),
  } as ReminderStore;
}
