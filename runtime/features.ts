/**
 * How features plug into the core, so that the core names none of them (Orleans' grain
 * extensions, call filters and per-activation components; Hono's middleware).
 *
 * A feature (transactions today; journaled grains, streams, reminders, schemas, tracing next)
 * registers, once, when its module loads:
 * - a **call extension**: a value that rides with a call in `CallScope.ext[key]`, travels in
 *   `CallMessage.ext[key]`, and may send information back in `Reply.ext[key]` (a transaction's
 *   identity going down, the participants it found coming back);
 * - **system messages**: calls to reserved method names (`$<prefix>.…`) that the feature
 *   answers for an activation outside its mailbox (a transaction's prepare and commit);
 * - a **grain type feature**: reads a grain class's statics once and gives the incoming call
 *   filter that serves that type (a transaction option per method, argument schemas).
 * Per-activation state lives in activation components (`Activation.component`).
 */
import type { Activation } from './activation.js';
import type { CallFilter } from './filters.js';
import type { GrainType } from './grain-type.js';
import type { PendingCall } from './pending-call.js';

/** Values features attach to a call (`CallScope.ext`): feature key → the feature's value. */
export type CallExtensions = Record<string, unknown>;

export interface CallExtension {
  /** Names the value in `CallScope.ext`, `CallMessage.ext` and `Reply.ext`. */
  readonly key: string;
  /** A call made with this value in scope is under way: the feature may follow its result. */
  track?(value: unknown, result: Promise<unknown>): Promise<unknown>;
  /** The callee side of a remote call ended: what its reply carries back (undefined: nothing). */
  replyInfo?(value: unknown): unknown;
  /**
   * A remote call's reply came back with `info`: merge it into the caller's value, and return
   * the value to keep (a value still in its wire form, on a host that only relayed the call,
   * becomes the feature's own object here, so the relay's reply carries the info on).
   */
  mergeReply?(value: unknown, info: unknown): unknown;
  /**
   * Calls made with this value in scope are not re-sent (runtime/call-log.ts) when their silo
   * may have received them and died: they fail (`SiloUnavailableError`), and the feature
   * settles what they did (a transaction aborts or commits as a whole).
   */
  readonly noResend?: boolean;
}

/** The activation a system message reaches, as features see it (`Activation` implements it). */
export interface SystemMessageHandler<A = unknown> {
  /** Takes the call (resolve or reject it, now or later). */
  (activation: A, call: PendingCall): void;
}

/** Makes a feature's incoming filter for one activation (the filter may need its host). */
export type ActivationFilter = (activation: Activation) => CallFilter;

/**
 * Loads an activation's state in place of the storage port's read (activation and
 * `readState()`), for types whose state a feature keeps itself (journaled grains).
 */
export type StateLoader = (activation: Activation) => Promise<void>;

export interface GrainTypeFeature {
  readonly name: string;
  /** Checks the class's statics (throw a `TypeError` naming the fix) and gives the type's filter, if any. */
  describe(type: GrainType): ActivationFilter | undefined;
  /** The loader of this type's state, when the feature keeps it (at most one feature per type). */
  stateLoader?(type: GrainType): StateLoader | undefined;
}

const callExtensions = new Map<string, CallExtension>();
const systemMessages = new Map<string, SystemMessageHandler<any>>(); // eslint-disable-line @typescript-eslint/no-explicit-any
const typeFeatures: GrainTypeFeature[] = [];

export function registerCallExtension(ext: CallExtension): void {
  callExtensions.set(ext.key, ext);
}

/** Calls to `$<prefix>.<name>` go to `handler`. */
export function registerSystemMessages<A>(prefix: string, handler: SystemMessageHandler<A>): void {
  systemMessages.set(prefix, handler);
}

export function registerGrainTypeFeature(feature: GrainTypeFeature): void {
  if (!typeFeatures.some((f) => f.name === feature.name)) typeFeatures.push(feature);
}

/** The handler of a reserved method (`$prefix.name`), if a feature registered one. */
export function systemMessageHandler(method: string): SystemMessageHandler | undefined {
  const dot = method.indexOf('.');
  return dot > 1 ? systemMessages.get(method.slice(1, dot)) : undefined;
}

/** The incoming filters the registered features give `type` (innermost last). */
export function typeFilters(type: GrainType): ActivationFilter[] {
  const out: ActivationFilter[] = [];
  for (const f of typeFeatures) {
    const filter = f.describe(type);
    if (filter !== undefined) out.push(filter);
  }
  return out;
}

/** The state loader a registered feature gives `type`, if any (runtime/activation.ts uses it). */
export function typeStateLoader(type: GrainType): StateLoader | undefined {
  for (const f of typeFeatures) {
    const loader = f.stateLoader?.(type);
    if (loader !== undefined) return loader;
  }
  return undefined;
}

/** Whether a call made with `ext` in scope may be re-sent (no extension in it settles its calls itself). */
export function resendAllowed(ext: CallExtensions): boolean {
  for (const key in ext) if (ext[key] !== undefined && callExtensions.get(key)?.noResend === true) return false;
  return true;
}

/** Lets each extension in `ext` follow a call's result. */
export function trackCall(ext: CallExtensions, result: Promise<unknown>): Promise<unknown> {
  for (const key in ext) {
    const track = callExtensions.get(key)?.track;
    if (track !== undefined && ext[key] !== undefined) result = track(ext[key], result);
  }
  return result;
}

/** What the callee side of a remote call sends back, per extension; undefined when nothing. */
export function replyExtensions(ext: CallExtensions | undefined): CallExtensions | undefined {
  if (ext === undefined) return undefined;
  let out: CallExtensions | undefined;
  for (const key in ext) {
    const info = callExtensions.get(key)?.replyInfo?.(ext[key]);
    if (info !== undefined) (out ??= {})[key] = info;
  }
  return out;
}

/** Merges a reply's extension info into the caller's values. */
export function mergeReplyExtensions(ext: CallExtensions | undefined, replied: unknown): void {
  if (ext === undefined || replied === null || typeof replied !== 'object') return;
  for (const key in replied as CallExtensions) {
    const merge = callExtensions.get(key)?.mergeReply;
    // In place: the scopes of this call share `ext`, and its own reply reads it.
    if (merge !== undefined && ext[key] !== undefined) ext[key] = merge(ext[key], (replied as CallExtensions)[key]);
  }
}

/**
 * What a feature keeps per host (a silo's catalog, a Worker's runtime): its backend, found from
 * a grain's runtime (`GrainRuntime.host`). `missing(grain)` says what to configure when a host
 * keeps none (reminders, streams).
 */
export interface HostValues<T> {
  attach(host: object, value: T): void;
  /** The value of the grain's host, or undefined when it keeps none. */
  find(runtime: unknown): T | undefined;
  /** The value of the grain's host; throws `missing(grain)` when it keeps none. */
  of(runtime: unknown, grain: string): T;
}

export function hostValues<T>(missing: (grain: string) => Error): HostValues<T> {
  const values = new WeakMap<object, T>();
  const find = (runtime: unknown): T | undefined => {
    const host = (runtime as { host?: object } | undefined)?.host;
    return host === undefined ? undefined : values.get(host);
  };
  return {
    attach(host, value) {
      values.set(host, value);
    },
    find,
    of(runtime, grain) {
      const value = find(runtime);
      if (value === undefined) throw missing(grain);
      return value;
    },
  };
}
