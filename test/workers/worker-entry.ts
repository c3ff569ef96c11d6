/**
 * The Worker the tests run: the sample grains, the runtime behaviour grains of the silo
 * tests, and the gateway tests' probe — the same classes the silo tests use, unchanged.
 *
 * Besides the gateway it serves one test-only route, `POST /__test/storage/<grain id>`: the
 * body goes to the `storage` RPC method of the object named by that id, so the storage
 * conformance suite can drive Durable Object storage from Node (test/workers/storage.test.ts).
 */
import { granaryWorker, type DurableObjectNamespaceLike, type GrainObjectStub, type WorkerEnv } from '../../silo/workers/index.js';
import { sampleGrains } from '../../grains/index.js';
import { testGrains } from '../fixtures/grains.js';
import { Probe } from '../gateway/grains.js';
import { FilterProbe, probeFilters } from '../fixtures/filters.js';
import { workerTestGrains } from './grains.js';
import { journalTestGrains } from '../journal/grains.js';
import { Alarm } from '../reminders/grains.js';
import { ChatArchive, Listener, Publisher } from '../streams/grains.js';

const STREAM_GRAINS = [ChatArchive, Listener, Publisher];

export const { GrainObject, StreamObject, handler } = granaryWorker({
  grains: [...sampleGrains, ...testGrains, Probe, ...workerTestGrains, FilterProbe, ...journalTestGrains, Alarm, ...STREAM_GRAINS],
  filters: probeFilters,
});

const STORAGE_ROUTE = '/__test/storage/';

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: unknown): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method === 'POST' && path.startsWith(STORAGE_ROUTE)) {
      const ns = env.GRAINS as DurableObjectNamespaceLike<GrainObjectStub>;
      const name = decodeURIComponent(path.slice(STORAGE_ROUTE.length));
      return new Response(await ns.get(ns.idFromName(name)).storage(await request.text()));
    }
    return handler.fetch(request, env, ctx);
  },
};
