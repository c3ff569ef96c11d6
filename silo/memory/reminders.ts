/**
 * Reminders in process memory: the reference of the reminder storage port (the conformance
 * suite holds the others to it), and what `memoryStorage()` offers TestCluster and `npm start`.
 * Records are filed per partition, so `due` looks at one partition only.
 */
import {
  DEFAULT_REMINDER_PARTITIONS, reminderPartition,
  type ReminderAdvance, type ReminderInput, type ReminderRecord, type ReminderStore,
} from '../../runtime/index.js';

export interface MemoryReminderStoreOptions {
  /** Default 64. */
  partitions?: number;
}

export function memoryReminderStore(options: MemoryReminderStoreOptions = {}): ReminderStore & { readonly size: number } {
  const partitions = options.partitions ?? DEFAULT_REMINDER_PARTITIONS;
  /** partition → grain → name → record */
  const byPartition = new Map<number, Map<string, Map<string, ReminderRecord>>>();
  let version = 0;
  let size = 0;

  function grainMap(grain: string, create: boolean): Map<string, ReminderRecord> | undefined {
    const p = reminderPartition(grain, partitions);
    let grains = byPartition.get(p);
    if (grains === undefined) {
      if (!create) return undefined;
      byPartition.set(p, (grains = new Map()));
    }
    let names = grains.get(grain);
    if (names === undefined && create) grains.set(grain, (names = new Map()));
    return names;
  }

  function drop(grain: string, name: string): boolean {
    const names = grainMap(grain, false);
    if (names === undefined || !names.delete(name)) return false;
    size--;
    if (names.size === 0) byPartition.get(reminderPartition(grain, partitions))?.delete(grain);
    return true;
  }

  return {
    partitions,
    get size() { return size; },
    async put(input: ReminderInput): Promise<ReminderRecord> {
      const names = grainMap(input.grain, true)!;
      const record: ReminderRecord = { ...input, version: ++version };
      if (!names.has(input.name)) size++;
      names.set(input.name, record);
      return record;
    },
    async remove(grain, name) {
      return drop(grain, name);
    },
    async get(grain, name) {
      return grainMap(grain, false)?.get(name);
    },
    async list(grain) {
      const names = grainMap(grain, false);
      return names === undefined ? [] : [...names.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async due(partition, until, limit) {
      const grains = byPartition.get(partition);
      if (grains === undefined) return [];
      const out: ReminderRecord[] = [];
      for (const names of grains.values()) for (const r of names.values()) if (r.dueAt < until) out.push(r);
      out.sort((a, b) => a.dueAt - b.dueAt);
      return out.length > limit ? out.slice(0, limit) : out;
    },
    async advance(record: ReminderRecord, next: ReminderAdvance | undefined) {
      const names = grainMap(record.grain, false);
      const current = names?.get(record.name);
      if (current === undefined || current.version !== record.version) return false;
      if (next === undefined) drop(record.grain, record.name);
      else names!.set(record.name, { ...current, ...next, version: ++version });
      return true;
    },
  };
}
