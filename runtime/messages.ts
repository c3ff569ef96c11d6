/**
 * What travels between silos (and between clients and silos), always through the codec.
 */
import type { ContextValues } from './context.js';
import type { WireError } from './errors.js';
import type { CallExtensions } from './features.js';

/**
 * Levels of a call message around each argument (`{"args": [arg]}`) and of a reply around its
 * value (`{"value": v}`): not counted against the codec's depth limit, which is on the values
 * (`encode(msg, CALL_ENVELOPE)`, `decode(text, options, REPLY_ENVELOPE)`).
 */
export const CALL_ENVELOPE = 2;
export const REPLY_ENVELOPE = 1;

export interface CallMessage {
  readonly k: 'call';
  /** Target grain, `"type/key"`. */
  readonly target: string;
  readonly method: string;
  readonly args: unknown[];
  readonly ctx?: ContextValues;
  /** Grain ids of the calls above this one, outermost first. */
  readonly chain?: string[];
  /** Milliseconds the caller still waits. */
  readonly timeout: number;
  /** How often the message was forwarded (bounded, to stop loops). */
  readonly hops: number;
  /** The sender chose this silo (from the directory or placement): activate here. */
  readonly placed: boolean;
  /** What features attach to the call (runtime/features.ts), by feature key. */
  readonly ext?: CallExtensions;
  /** The call's id (runtime/call-log.ts): the same on every send of this call. */
  readonly id?: string;
  /** Sent again after the silo it went to died (`resent: true`): an earlier send may have run. */
  readonly resent?: true;
}

export type Request = CallMessage;

/** `ext`: what features on the callee's side send back to the caller's (e.g. a transaction's participants). */
export type Reply =
  | { readonly k: 'ok'; readonly value: unknown; readonly host: string; readonly ext?: CallExtensions }
  | { readonly k: 'err'; readonly error: WireError; readonly host?: string; readonly ext?: CallExtensions };
