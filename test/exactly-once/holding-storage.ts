/**
 * Storage that holds one write (a state write, or a journal append), before it reaches storage
 * or after it committed: how the exactly-once tests crash a silo at a chosen moment.
 */
import type { StorageProvider } from 'granary';
import type { JournalStorage } from 'granary/internal';

export type Moment = 'before' | 'after';

/** Holds the next write or append (of `grain`, `"type/key"`, or of any grain when undefined). */
export function holdingStorage(inner: StorageProvider) {
  let armed: { grain: string | undefined; moment: Moment; reached: () => void; release: Promise<void> } | undefined;
  async function through<T>(grain: string, op: () => Promise<T>): Promise<T> {
    const g = armed !== undefined && (armed.grain === undefined || grain === armed.grain) ? armed : undefined;
    if (g === undefined) return op();
    armed = undefined;
    if (g.moment === 'before') {
      g.reached();
      await g.release;
      return op();
    }
    const out = await op();
    g.reached();
    await g.release;
    return out;
  }
  const j = inner.journal;
  const journal: JournalStorage | undefined = j && {
    load: j.load.bind(j),
    readEvents: j.readEvents.bind(j),
    writeSnapshot: j.writeSnapshot.bind(j),
    append: (id, batch) => through(`${id.type}/${id.key}`, () => j.append(id, batch)),
  };
  return {
    name: `holding(${inner.name})`,
    read: inner.read.bind(inner),
    clear: inner.clear.bind(inner),
    write: (...a: Parameters<StorageProvider['write']>): Promise<string> => through(String(a[0]), () => inner.write(...a)),
    ...(journal !== undefined ? { journal } : {}),
    ...(inner.reminders !== undefined ? { reminders: inner.reminders } : {}),
    ...(inner.streams !== undefined ? { streams: inner.streams } : {}),
    /** Holds the next write of `grain`; `reached` resolves when it is held. */
    hold(grain: string | undefined, moment: Moment): { reached: Promise<void>; release(): void } {
      let release!: () => void;
      let reached!: () => void;
      const p = new Promise<void>((r) => { reached = r; });
      armed = { grain, moment, reached, release: new Promise<void>((r) => { release = r; }) };
      return { reached: p, release };
    },
  };
}
