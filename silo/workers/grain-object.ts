/**
 * The Durable Object class that hosts grains: one object per grain id
 * (`idFromName("type/key")`), so the platform itself keeps a single activation per grain.
 * Callers reach it through its RPC method `call`, one wire-codec message each way.
 */
import { DurableObject } from 'cloudflare:workers';
import { encode, toGrainError, type Reply, type StorageProvider } from '../../runtime/index.js';
import type { DurableObjectStateLike, WorkerEnv } from './cloudflare.js';
import { durableObjectStorage } from './durable-storage.js';
import { ObjectHost } from './object-host.js';
import { objectReminders, type ObjectReminders } from './reminders.js';
import { attachReminderBackend, attachStreamBackend, providerStreamBackend } from '../../runtime/index.js';
import { workerStreams } from './stream-object.js';
import { serveStorageOp } from './object-storage.js';
import type { WorkersRuntime } from './runtime.js';

/**
 * The class wrangler.toml names in `class_name` (exported from the Worker's main module). A
 * `DurableObject` subclass; typed structurally so declarations need no Workers types.
 */
export type GrainObjectClass = new (ctx: DurableObjectStateLike, env: WorkerEnv) => {
  call(payload: string): Promise<string>;
  storage(payload: string): Promise<string>;
  fetch(request: Request): Promise<Response>;
  /** The object's alarm: fires the grain's due reminders (silo/workers/reminders.ts). */
  alarm(): Promise<void>;
};

export function grainObjectClass(runtimeFor: (env: WorkerEnv) => WorkersRuntime): GrainObjectClass {
  return class GrainObject extends DurableObject<WorkerEnv> {
    private readonly host: ObjectHost | undefined;
    /** Why this object cannot host grains (a configuration error), answered to every call. */
    private readonly failure: unknown;
    /** This object's own storage, for states it keeps for others (`storage`). */
    private local: StorageProvider | undefined;
    /** The grain's durable reminders, in this object's storage, on its alarm. */
    private readonly reminders: ObjectReminders | undefined;
    private readonly responseTimeoutMs: number = 30_000;

    constructor(ctx: DurableObjectStateLike, env: WorkerEnv) {
      super(ctx, env);
      try {
        const rt = runtimeFor(env);
        this.host = new ObjectHost({
          runtime: rt,
          storageFor: (grainKey) => rt.storageFor(ctx.storage, grainKey),
          objectName: ctx.id.toString(),
          incomingFilters: rt.incomingFilters,
        });
        this.reminders = objectReminders(ctx.storage, rt.clock);
        attachReminderBackend(this.host, this.reminders);
        // Streams: one Durable Object per stream (stream-object.ts), when the STREAMS binding exists.
        const streams = workerStreams(env, rt);
        if (streams !== undefined) attachStreamBackend(this.host, providerStreamBackend(streams));
        this.responseTimeoutMs = rt.responseTimeoutMs;
      } catch (err) {
        // A throwing constructor would break the object for good; answer the error instead.
        this.failure = err;
      }
    }

    /** One call: a `CallMessage` in, a `Reply` out (both through the wire codec). */
    call(payload: string): Promise<string> {
      if (this.host === undefined) {
        return Promise.resolve(encode({ k: 'err', error: toGrainError(this.failure).toWire() } satisfies Reply));
      }
      return this.host.inbound(payload);
    }

    /**
     * One storage operation on this object's own storage, for a state this object keeps for
     * another (a transaction record named `$txn/<id>`: its object holds nothing else).
     */
    storage(payload: string): Promise<string> {
      try {
        this.local ??= durableObjectStorage(this.ctx.storage);
        return serveStorageOp(this.local, payload);
      } catch (err) {
        return Promise.resolve(encode({ k: 'err', error: toGrainError(err).toWire() } satisfies Reply));
      }
    }

    /** The alarm (the earliest reminder due): delivers the due reminders as turns, then sets it again. */
    async alarm(): Promise<void> {
      const host = this.host;
      if (host === undefined || this.reminders === undefined) return;
      await this.reminders.runDue((payload) => host.inbound(payload), this.responseTimeoutMs);
    }

    override async fetch(): Promise<Response> {
      const error = { code: 'not_found', name: 'GatewayError', message: 'grain objects take calls over RPC; send HTTP calls to the Worker (POST /grains/:type/:key/:method)' };
      return new Response(JSON.stringify({ error }), { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } });
    }
  };
}
