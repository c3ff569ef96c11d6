/**
 * A storage provider around a real one that fails chosen operations the way a network does:
 * a write refused before it reached storage, a write that landed but whose answer was lost
 * (the caller cannot tell the two apart: both reject with `SiloUnavailableError`), and an
 * outage in which every operation fails until `restore()`.
 */
import { SiloUnavailableError, type StorageProvider } from './imports.js';

type Op = 'read' | 'write' | 'clear';

/** What happens to one operation: it goes through, fails without landing, or lands and then fails. */
export type StorageFault = 'pass' | 'fail' | 'lose-answer';

export interface FaultyStorage {
  readonly storage: StorageProvider;
  /**
   * Decides each operation's fate, given the operation and `"type/key#state"` (default: pass
   * everything). Returning `'outage'` fails this operation and every later one until `restore()`.
   */
  decide: (op: Op, target: string) => StorageFault | 'outage';
  readonly down: boolean;
  restore(): void;
}

export function faultyStorage(inner: StorageProvider): FaultyStorage {
  let down = false;
  let decide: FaultyStorage['decide'] = () => 'pass';
  const unavailable = (op: Op, target: string, landed: boolean) => new SiloUnavailableError(
    `injected storage fault: ${op} of ${target} ${landed ? 'landed, but its answer was lost' : 'failed'}`,
  );
  const run = async <T>(op: Op, target: string, call: () => Promise<T>): Promise<T> => {
    if (!down) {
      const fault = decide(op, target);
      if (fault === 'pass') return call();
      if (fault === 'outage') down = true;
      else if (fault === 'lose-answer') {
        await call();
        throw unavailable(op, target, true);
      }
    }
    throw unavailable(op, target, false);
  };
  const name = (id: { type: string; key: string }, state: string) => `${id.type}/${id.key}#${state}`;
  return {
    storage: {
      name: `${inner.name}+faults`,
      read: (id, state) => run('read', name(id, state), () => inner.read(id, state)),
      write: (id, state, payload, etag) => run('write', name(id, state), () => inner.write(id, state, payload, etag)),
      clear: (id, state, etag) => run('clear', name(id, state), () => inner.clear(id, state, etag)),
    },
    get decide() { return decide; },
    set decide(d) { decide = d; },
    get down() { return down; },
    restore() { down = false; },
  };
}
