/**
 * Storage as the catalog sees it, with a span per operation (`storage read`, `storage write`,
 * `storage clear`) while a tracer provider is registered. A proxy, like `countingStorage`, so
 * whatever else a provider offers passes through untouched.
 */
import { withSpan } from '../runtime/features/tracing/index.js';
import type { StorageProvider } from '../runtime/storage.js';

export function tracedStorage(inner: StorageProvider, siloId: string): StorageProvider {
  const attrs = (operation: string, type: string, key: string, stateName: string) => ({
    'db.system': inner.name, 'db.operation': operation, 'granary.grain.type': type, 'granary.grain.key': key,
    'granary.state.name': stateName, 'granary.silo.id': siloId,
  });
  const traced: Partial<StorageProvider> = {
    read: (id, stateName) => withSpan('storage read', attrs('read', id.type, id.key, stateName), () => inner.read(id, stateName)),
    write: (id, stateName, payload, etag) => withSpan('storage write', attrs('write', id.type, id.key, stateName), () => inner.write(id, stateName, payload, etag)),
    clear: (id, stateName, etag) => withSpan('storage clear', attrs('clear', id.type, id.key, stateName), () => inner.clear(id, stateName, etag)),
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'read' || prop === 'write' || prop === 'clear') return traced[prop];
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
