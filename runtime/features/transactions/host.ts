/**
 * What the transactions module needs from the activation it serves, and how it sends its
 * own protocol messages. Kept structural so the module imports nothing from the
 * activation at run time (the activation imports this module).
 */
import type { Clock } from '../../clock.js';
import type { GrainType } from '../../grain-type.js';
import type { GrainId } from '../../identity.js';
import { freshCallId } from '../../call-log.js';
import { PendingCall } from '../../pending-call.js';
import type { StorageProvider } from '../../storage.js';
import { parseGrainId } from '../../identity.js';
import { RESERVED_METHOD_PREFIX } from '../../protocol.js';
import { transactionDefaults } from './options.js';

/** The activation as the transactions module sees it (`runtime/activation.ts` `Activation`). */
export interface TxnActivation {
  readonly id: GrainId;
  /** `"type/key"`. */
  readonly key: string;
  readonly type: GrainType;
  /** `Status.Dead` (3) once the activation ended, or its silo crashed. */
  readonly status: number;
  readonly grain: unknown;
  readonly host: {
    readonly clock: Clock;
    readonly storage: StorageProvider;
    ref(type: string, key: string): unknown;
    /** Routes a call from this silo (the local activation, the directory, placement). */
    reroute(call: PendingCall): void;
    /** Reports an error no caller will see. */
    reportError?(act: TxnActivation, what: string, err: unknown): void;
  };
  delayDeactivation(ms: number): void;
  /** Per-activation components (runtime/activation.ts): the participant lives in one. */
  component<C extends object>(key: object, create: () => C): C;
  component<C extends object>(key: object): C | undefined;
}

/** Activation statuses (mirror `Status` in runtime/activation.ts). */
export const ACTIVATING = 0;
export const DEAD = 3;

/** Where a transaction is coordinated from: a client or a grain. */
export interface TxnEnv {
  readonly clock: Clock;
  /** Sends a protocol message (`$txn.*`) to a grain, outside any transaction. */
  call(target: string, method: string, args: unknown[]): Promise<unknown>;
}

/** Protocol messages are calls to these reserved method names (system messages); they bypass the mailbox. */
export const MSG = {
  prepare: `${RESERVED_METHOD_PREFIX}txn.prepare`,
  finish: `${RESERVED_METHOD_PREFIX}txn.finish`,
  commit: `${RESERVED_METHOD_PREFIX}txn.commit`,
  abort: `${RESERVED_METHOD_PREFIX}txn.abort`,
  resolve: `${RESERVED_METHOD_PREFIX}txn.resolve`,
} as const;

/** Sends protocol messages from a silo, routed like any call made on that silo. */
export function siloEnv(act: TxnActivation): TxnEnv {
  const host = act.host;
  return {
    clock: host.clock,
    call(target, method, args) {
      return new Promise((resolve, reject) => {
        host.reroute(new PendingCall({
          target: parseGrainId(target), targetKey: target, method, args, caller: undefined,
          timeoutMs: transactionDefaults.messageTimeoutMs, onResolve: resolve, onReject: reject,
          // An id, so a message the network delivers twice is handled once (a second `finish`
          // must not abort what the first committed); not re-sent: the protocol settles
          // messages that got no answer itself (coordinator.ts).
          id: freshCallId(host.clock), resendable: false,
        }));
      });
    },
  };
}
