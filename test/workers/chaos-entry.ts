/**
 * The Worker of the Workers chaos test: the sample grains and `LingeringCounter`, and two test-only
 * routes that reset a grain's Durable Object with `ctx.abort()`: `POST /__chaos/abort/<grain id>`
 * at once, `POST /__chaos/abort-mid-call/<grain id>` only while an `add` runs in it (else it
 * answers "idle"). A reset is what the platform does to an object it evicts or restarts
 * mid-call: its memory is gone, its calls in flight fail at the Worker, its storage stays. The
 * next call starts a new instance, which loads the stored state.
 */
import { granaryWorker, type DurableObjectNamespaceLike, type DurableObjectStateLike, type WorkerEnv } from '../../silo/workers/index.js';
import { sampleGrains } from '../../grains/index.js';
import { LingeringCounter, addRunning } from './chaos-grains.js';

const worker = granaryWorker({ grains: [...sampleGrains, LingeringCounter] });

export const { StreamObject } = worker;

/** The Durable Object state's `abort`, which the structural type leaves out. */
type Abortable = DurableObjectStateLike & { abort(reason?: string): void };

export class GrainObject extends worker.GrainObject {
  readonly #state: Abortable;
  constructor(ctx: DurableObjectStateLike, env: WorkerEnv) {
    super(ctx, env);
    this.#state = ctx as Abortable;
  }

  /** Resets this object as the platform would (this RPC itself fails too). */
  chaosAbort(reason: string): void {
    this.#state.abort(reason);
  }

  /** Resets this object only while the `add` of LingeringCounter `key` runs in it; else answers "idle". */
  chaosAbortMidCall(key: string): string {
    const phase = addRunning(key);
    if (phase === undefined) return 'idle';
    this.#state.abort(`chaos test: object reset mid-call, the add ${phase}`);
    return 'not reset';
  }
}

const ABORT_ROUTE = '/__chaos/abort/';
const ABORT_MID_CALL_ROUTE = '/__chaos/abort-mid-call/';

type ChaosStub = { chaosAbort(reason: string): Promise<void>; chaosAbortMidCall(key: string): Promise<string> };

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: unknown): Promise<Response> {
    const path = new URL(request.url).pathname;
    const route = path.startsWith(ABORT_ROUTE) ? ABORT_ROUTE : path.startsWith(ABORT_MID_CALL_ROUTE) ? ABORT_MID_CALL_ROUTE : undefined;
    if (request.method === 'POST' && route !== undefined) {
      const ns = env.GRAINS as DurableObjectNamespaceLike<ChaosStub>;
      const name = decodeURIComponent(path.slice(route.length)); // "type/key"
      const stub = ns.get(ns.idFromName(name));
      const sent = route === ABORT_ROUTE ? stub.chaosAbort('chaos test: object reset') : stub.chaosAbortMidCall(name.slice(name.indexOf('/') + 1));
      // The reset rejects the RPC that caused it: that is the expected answer.
      const outcome = await sent.then((v) => (typeof v === 'string' ? v : 'not reset'), (err: unknown) => `reset: ${String((err as Error)?.message ?? err)}`);
      return new Response(outcome);
    }
    return worker.handler.fetch(request, env, ctx);
  },
};
