/**
 * The few Cloudflare Workers and Durable Objects shapes Granary uses, declared structurally
 * so the package needs no `@cloudflare/workers-types` to compile (a Worker project that has
 * them passes its own objects, which fit).
 */

/** A Durable Object's id (`namespace.idFromName("type/key")`). */
export interface DurableObjectIdLike {
  toString(): string;
  /** The name it was derived from, where the runtime tells (recent workerd does). */
  readonly name?: string;
}

/** A Durable Object namespace binding (`[[durable_objects.bindings]]` in wrangler.toml). */
export interface DurableObjectNamespaceLike<Stub = unknown> {
  idFromName(name: string): DurableObjectIdLike;
  get(id: DurableObjectIdLike): Stub;
}

/** The synchronous key-value API of a SQLite-backed Durable Object (`ctx.storage.kv`). */
export interface SyncKvLike {
  get(key: string): unknown;
  put(key: string, value: unknown): void;
  delete(key: string): boolean;
}

export interface DurableObjectStorageLike {
  /** Present on SQLite-backed objects (`new_sqlite_classes`); Granary requires it. */
  readonly kv?: SyncKvLike;
  /** Runs `fn` in one transaction (rolled back if it throws); journals use it for atomic appends. */
  transactionSync?<T>(fn: () => T): T;
  /** The object's one alarm (`alarm()` runs at that time); reminders share it. */
  setAlarm?(scheduledTime: number): Promise<void>;
  getAlarm?(): Promise<number | null>;
  deleteAlarm?(): Promise<void>;
}

/** What a Durable Object's constructor receives as `ctx`. */
export interface DurableObjectStateLike {
  readonly id: DurableObjectIdLike;
  readonly storage: DurableObjectStorageLike;
}

/** The RPC surface of the grain-hosting Durable Object, as its stubs see it. */
export interface GrainObjectStub {
  /** One wire-codec `CallMessage` in, one wire-codec `Reply` out. */
  call(payload: string): Promise<string>;
  /** One storage operation on the object's own storage (`remoteObjectStorage`). */
  storage(payload: string): Promise<string>;
}

/** The Worker's bindings and vars; values are strings (vars, secrets) or bindings. */
export type WorkerEnv = Record<string, unknown>;
