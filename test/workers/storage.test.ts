/**
 * The storage conformance suite (the behaviour of `memoryStorage()`, the port's reference)
 * against Durable Object storage in workerd: every grain id's state in the object named by
 * it, the conditional write run inside that object on its SQLite-backed storage. Node drives
 * it through `remoteObjectStorage` — the provider a grain object uses for the states of other
 * ids (transaction records) — whose RPC here goes through a test-only route of the Worker.
 */
import { remoteObjectStorage } from '../../silo/workers/object-storage.js';
import type { DurableObjectNamespaceLike, GrainObjectStub } from '../../silo/workers/index.js';
import { storageConformance } from '../storage/conformance.js';
import { buildWorker, startWorker, tempDir } from './worker-host.js';

storageConformance('Durable Object storage (workerd)', async () => {
  const build = tempDir('granary-worker-storage-');
  await buildWorker('test/workers/worker-entry.ts', `${build.dir}/worker.js`);
  const worker = await startWorker({ scriptPath: `${build.dir}/worker.js` });
  const namespace: DurableObjectNamespaceLike<GrainObjectStub> = {
    idFromName: (name) => ({ name, toString: () => name }),
    get: (id) => ({
      storage: async (payload) => {
        const res = await fetch(`${worker.url}/__test/storage/${encodeURIComponent(String(id))}`, { method: 'POST', body: payload });
        if (!res.ok) throw new Error(`storage route answered HTTP ${res.status}: ${await res.text()}`);
        return res.text();
      },
      call: () => Promise.reject(new Error('not used by the storage suite')),
    }),
  };
  return {
    storage: remoteObjectStorage(namespace),
    async close() {
      await worker.dispose();
      build.remove();
    },
  };
});
