/**
 * A grain whose `hold()` runs until the test releases it, and which tells the test when it
 * started: tests wait on these two events instead of sleeping for fixed times. The events
 * live in this module, so it works for silos in the test's own process.
 */
import { Grain } from 'granary';

interface Hold {
  started: Promise<void>;
  markStarted(): void;
  released: Promise<void>;
  release(): void;
}

const holds = new Map<string, Hold>();

function holdFor(key: string): Hold {
  let h = holds.get(key);
  if (h === undefined) {
    let markStarted!: () => void;
    let release!: () => void;
    const started = new Promise<void>((r) => { markStarted = r; });
    const released = new Promise<void>((r) => { release = r; });
    h = { started, markStarted, released, release };
    holds.set(key, h);
  }
  return h;
}

/** The events of `Held/<key>`: `started` when its `hold()` runs; `release()` lets it return. */
export function held(key: string): { started: Promise<void>; release(): void } {
  const h = holdFor(key);
  return { started: h.started, release: h.release };
}

export class Held extends Grain {
  static grainType = 'Held';
  async hold(): Promise<string> {
    const h = holdFor(this.key);
    h.markStarted();
    await h.released;
    return 'released';
  }
}
