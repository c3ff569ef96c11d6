/**
 * The journal port's conformance suite against Durable Object storage in workerd: each grain
 * id's journal in the object named by it (silo/workers/durable-journal.ts), driven from Node
 * through `remoteObjectStorage`'s journal and the Worker's test-only storage route.
 */
import { remoteObjectStorage } from '../../silo/workers/object-storage.js';
import type { DurableObjectNamespaceLike, GrainObjectStub } from '../../silo/workers/index.js';
import { journalConformance } from '../storage/journal-conformance.js';
import { buildWorker, startWorker, tempDir } from './worker-host.js';

journalConformance('Durable Object storage (workerd)', async () => {
  const build = tempDir('granary-worker-journal-storage-');
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
    journal: remoteObjectStorage(namespace).journal!,
    async close() {
      await worker.dispose();
      build.remove();
    },
  };
});
