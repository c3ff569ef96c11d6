/**
 * Request context and the call scope it rides on.
 *
 * Every grain turn runs inside a `CallScope` (AsyncLocalStorage): the request-context
 * values, the grain running the turn, and the scope of its caller. The chain of caller
 * scopes is the call chain used for reentrancy; the values flow down with every call and
 * never back up: a callee gets its caller's values copy-on-write, so its `set` is private
 * to its own call flow.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidArgumentError } from './errors.js';
import type { CallExtensions } from './features.js';
import type { TurnIds } from './call-log.js';

export type ContextValues = Record<string, unknown>;

export interface CallScope {
  /** Request-context values; `undefined` when empty. */
  ctx: ContextValues | undefined;
  /** `ctx` belongs to the caller as well: copy before writing. */
  ctxShared: boolean;
  /** `"type/key"` of the grain whose turn this is; undefined outside grains. */
  grain: string | undefined;
  /** The caller's scope, when the caller runs in this process. */
  parent: CallScope | undefined;
  /** The part of the chain that arrived over the wire (grain ids, outermost first). */
  remoteChain: readonly string[] | undefined;
  /**
   * What features attach to the call (a transaction, later a trace): flows to the calls made
   * from this scope, shared until written (`setExtension` copies it).
   */
  ext: CallExtensions | undefined;
  /** The id of the call whose turn this is, and the ids of the calls it makes (runtime/call-log.ts). */
  turn: TurnIds | undefined;
}

/** The fields of a new scope; those left out are empty. */
export interface ScopeInit {
  ctx?: ContextValues | undefined;
  ctxShared?: boolean;
  grain?: string | undefined;
  parent?: CallScope | undefined;
  remoteChain?: readonly string[] | undefined;
  ext?: CallExtensions | undefined;
  turn?: TurnIds | undefined;
}

export const scopeStorage = new AsyncLocalStorage<CallScope>();

export function currentScope(): CallScope | undefined {
  return scopeStorage.getStore();
}

export function newScope(init: ScopeInit): CallScope {
  // Every scope has the same shape (one hidden class on the hot path).
  return {
    ctx: init.ctx,
    ctxShared: init.ctxShared ?? false,
    grain: init.grain,
    parent: init.parent,
    remoteChain: init.remoteChain,
    ext: init.ext,
    turn: init.turn,
  };
}

/** A scope like `scope` (same context, grain and chain) whose own changes stay its own. */
export function childScope(scope: CallScope | undefined, ext?: CallExtensions | undefined): CallScope {
  return newScope({
    ctx: scope?.ctx, ctxShared: true, grain: scope?.grain, parent: scope?.parent, remoteChain: scope?.remoteChain,
    ext: ext ?? scope?.ext, turn: scope?.turn,
  });
}

/** Sets (or, with `undefined`, removes) a feature's value in `scope` without touching its caller's. */
export function setExtension(scope: CallScope, key: string, value: unknown): void {
  const ext: CallExtensions = { ...scope.ext };
  if (value === undefined) delete ext[key];
  else ext[key] = value;
  scope.ext = Object.keys(ext).length > 0 ? ext : undefined;
}

/** Whether `grain` is already on the call chain that leads to `scope` (A → B → A). */
export function chainIncludes(scope: CallScope | undefined, grain: string): boolean {
  for (let s = scope; s !== undefined; s = s.parent) {
    if (s.grain === grain) return true;
    if (s.remoteChain !== undefined && s.remoteChain.includes(grain)) return true;
  }
  return false;
}

/** The call chain as grain ids, outermost first: what a remote message carries. */
export function chainOf(scope: CallScope | undefined): string[] | undefined {
  const out: string[] = [];
  for (let s = scope; s !== undefined; s = s.parent) {
    if (s.grain !== undefined) out.push(s.grain);
    if (s.remoteChain !== undefined) for (let i = s.remoteChain.length - 1; i >= 0; i--) out.push(s.remoteChain[i]!);
  }
  return out.length ? out.reverse() : undefined;
}

/** Depth of the chain, to stop runaway recursion between grains. */
export function chainDepth(scope: CallScope | undefined): number {
  let n = 0;
  for (let s = scope; s !== undefined; s = s.parent) n += 1 + (s.remoteChain?.length ?? 0);
  return n;
}

function assertJsonValue(key: string, value: unknown): void {
  const t = typeof value;
  if (t === 'function' || t === 'symbol' || t === 'bigint') {
    throw new InvalidArgumentError(`RequestContext value "${key}" must be JSON-serialisable (got a ${t})`);
  }
}

/** The ambient request context. Values are JSON-serialisable and flow with every call. */
export const RequestContext = {
  /** Runs `fn` with `values` added to the current context (for `fn` and the calls it makes). */
  run<T>(values: ContextValues, fn: () => T): T {
    for (const k of Object.keys(values)) assertJsonValue(k, values[k]);
    const cur = scopeStorage.getStore();
    const ctx = { ...cur?.ctx, ...values };
    return scopeStorage.run(
      newScope({ ctx, grain: cur?.grain, parent: cur?.parent, remoteChain: cur?.remoteChain, ext: cur?.ext, turn: cur?.turn }),
      fn,
    );
  },

  get(key: string): unknown {
    return scopeStorage.getStore()?.ctx?.[key];
  },

  /** Sets a value for the rest of the current call flow and the calls it makes. */
  set(key: string, value: unknown): void {
    assertJsonValue(key, value);
    const scope = scopeStorage.getStore();
    if (scope === undefined) {
      scopeStorage.enterWith(newScope({ ctx: { [key]: value } }));
      return;
    }
    if (scope.ctx === undefined || scope.ctxShared) {
      scope.ctx = { ...scope.ctx };
      scope.ctxShared = false;
    }
    scope.ctx[key] = value;
  },

  /** Removes a value from the current call flow. */
  remove(key: string): void {
    const scope = scopeStorage.getStore();
    if (scope?.ctx === undefined || !(key in scope.ctx)) return;
    scope.ctx = { ...scope.ctx };
    scope.ctxShared = false;
    delete scope.ctx[key];
  },

  /** A copy of the current values. */
  snapshot(): ContextValues {
    return { ...scopeStorage.getStore()?.ctx };
  },
};
