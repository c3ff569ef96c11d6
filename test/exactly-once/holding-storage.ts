/** Storage that holds one write, before it reaches storage or after it committed: how the exactly-once tests crash a silo at a chosen moment. */
import type { StorageProvider } from 'granary';

export type Moment = 'before' | 'after';

/** Holds the next write (of `grain`, `"type/key"`, or of any grain when undefined). */
export function holdingStorage(inner: StorageProvider) {
  let armed: { grain: string | undefined; moment: Moment; reached: () => void; release: Promise<void> } | undefined;
  return {
    name: `holding(${inner.name})`,
    read: inner.read.bind(inner),
    clear: inner.clear.bind(inner),
    async write(...a: Parameters<StorageProvider['write']>): Promise<string> {
      const g = armed !== undefined && (armed.grain === undefined || String(a[0]) === armed.grain) ? armed : undefined;
      if (g === undefined) return inner.write(...a);
      armed = undefined;
      if (g.moment === 'before') {
        g.reached();
        await g.release;
        return inner.write(...a);
      }
      const etag = await inner.write(...a);
      g.reached();
      await g.release;
      return etag;
    },
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

