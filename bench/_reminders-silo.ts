/**
 * The silo of the memory figure (forked by bench/reminders.ts): one silo whose reminders live
 * in the parent's store; after `SETTLE_MS` of polling and firing it reports its resident
 * memory (after a full GC) and how many reminders it holds.
 */
import { Silo, memoryStorage, type StorageProvider } from 'granary';
import { jsonLogger } from 'granary/internal';
import { BenchAlarm, parentStore } from './_reminders-support.js';

const SETTLE_MS = Number(process.env.SETTLE_MS ?? 8_000);
const base = memoryStorage();
const storage: StorageProvider = {
  name: 'memory (reminders in another process)',
  read: (id, n) => base.read(id, n),
  write: (id, n, p, e) => base.write(id, n, p, e),
  clear: (id, n, e) => base.clear(id, n, e),
  reminders: parentStore(Number(process.env.PARTITIONS ?? 64)),
};
const silo = await Silo.start({ grains: [BenchAlarm], storage, logger: jsonLogger({ level: 'error' }) });
// The same work in both variants (the silo with none and with 1,000,000 stored): reminders of
// its own registered and fired, so both run warm code paths and hold activations, and what
// differs is what the stored reminders cost.
await Promise.all(Array.from({ length: 50 }, (_, i) => silo.getGrain(BenchAlarm, `own${i}`).set('own', 200 + i * 50)));
await new Promise((r) => setTimeout(r, SETTLE_MS));
// Resident memory after full collections, the least of a few samples (transient pages aside).
let rss = Infinity;
let heapUsed = Infinity;
for (let i = 0; i < 5; i++) {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 100));
  const m = process.memoryUsage();
  rss = Math.min(rss, m.rss);
  heapUsed = Math.min(heapUsed, m.heapUsed);
}
process.send!({ report: { rss, heapUsed, held: silo.reminders!.counters.held, fired: silo.reminders!.counters.fired, activations: silo.activationCount() } });
await silo.stop();
process.disconnect();
