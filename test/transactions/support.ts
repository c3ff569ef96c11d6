/** Shared setup of the transaction suite: a storage per run, a TestCluster per test, helpers. */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { TestCluster, TransactionAbortedError, type GrainClass, type StorageProvider } from 'granary';
import { settle, transactionDefaults } from 'granary/internal';
import { transactionTestHooks, type TransactionTestHooks } from '../../runtime/features/transactions/index.js';
import { Account, Bank, Ledger } from '../../grains/index.js';
import { Overdraft, Pair, Probe } from './grains.js';
import { workloadRandom } from '../support/random.js';

export interface StorageHandle {
  storage: StorageProvider;
  close(): Promise<void>;
}
export type StorageFactory = () => Promise<StorageHandle>;

export const GRAINS: GrainClass[] = [Account, Bank, Ledger, Probe, Pair, Overdraft];

/** What every part of the suite gets: the cluster of the current test and helpers. */
export interface SuiteContext {
  readonly name: string;
  storage(): StorageProvider;
  /** A TestCluster on the run's storage, stopped after the test. */
  start(silos?: number, storage?: StorageProvider): Promise<TestCluster>;
  /** A key no other test uses (all tests share one storage). */
  key(prefix: string): string;
  /** Pauses the protocol at a hook; the test releases it, or fails it (a crash). */
  pauseAt(hook: keyof TransactionTestHooks): HookGate;
}

export interface HookGate {
  /** Resolves with the transaction id when the protocol reaches the hook. */
  reached: Promise<string>;
  release(): void;
  /** The step stops there, as if its process had died. */
  fail(): void;
}

export function setupSuite(name: string, factory: StorageFactory): SuiteContext {
  let handle: StorageHandle | undefined;
  const clusters: TestCluster[] = [];
  const gates: HookGate[] = [];
  const saved = { ...transactionDefaults };
  let seq = 0;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    handle = await factory();
    // Recovery looks at a pending value 500 ms (fake time) past its transaction's deadline.
    transactionDefaults.recoveryGraceMs = 500;
  });
  afterEach(async () => {
    for (const g of gates.splice(0)) g.fail();
    delete transactionTestHooks.beforeCommit;
    delete transactionTestHooks.afterCommitRecord;
    Object.assign(transactionDefaults, saved, { recoveryGraceMs: 500 });
    await Promise.all(clusters.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    Object.assign(transactionDefaults, saved);
    await handle?.close();
  });

  return {
    name,
    storage: () => handle!.storage,
    async start(silos = 3, storage?: StorageProvider) {
      const c = await TestCluster.start({ silos, grains: GRAINS, storage: storage ?? handle!.storage });
      clusters.push(c);
      return c;
    },
    key: (prefix) => `${prefix}-${run}-${++seq}`,
    pauseAt(hook) {
      let reached!: (id: string) => void;
      let release!: () => void;
      let fail!: (e: Error) => void;
      const gate: HookGate = {
        reached: new Promise<string>((r) => { reached = r; }),
        release: () => release(),
        fail: () => fail(new Error('simulated crash')),
      };
      const wait = new Promise<void>((ok, no) => { release = ok; fail = no; });
      wait.catch(() => undefined);
      let taken = false;
      transactionTestHooks[hook] = ((txnId: string) => {
        if (taken) return undefined;
        taken = true;
        reached(txnId);
        return wait;
      }) as never;
      gates.push(gate);
      return gate;
    },
  };
}

/** Activates `key` of `cls` on silo `i` (placement prefers the calling silo). */
export async function placeOn(c: TestCluster, i: number, cls: typeof Account | typeof Probe | typeof Bank, key: string): Promise<void> {
  const silo = c.silos[i]!;
  if (cls === Bank) await silo.getGrain(Bank, key).total([]);
  else if (cls === Probe) await silo.getGrain(Probe, key).value();
  else await silo.getGrain(Account, key).balance();
}

/** The silo hosting grain `"type/key"` now. */
export function hostOf(c: TestCluster, grainKey: string) {
  return c.silos.find((s) => s.catalog.get(grainKey) !== undefined);
}

export async function fund(c: TestCluster, amounts: Record<string, number>): Promise<void> {
  await c.client.transaction(async () => {
    for (const [k, n] of Object.entries(amounts)) await c.client.getGrain(Account, k).deposit(n);
  });
}

export async function balances(c: TestCluster, keys: string[]): Promise<number[]> {
  return Promise.all(keys.map((k) => c.client.getGrain(Account, k).balance()));
}

/** Whether `p` is still pending after the queued work settled. */
export async function pending(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  await settle(5);
  return !done;
}

export async function abortedWith(p: Promise<unknown>): Promise<TransactionAbortedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TransactionAbortedError) return err;
    throw new Error(`expected TransactionAbortedError, got ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
  }
  throw new Error('expected TransactionAbortedError, but it succeeded');
}

const backoff = workloadRandom('retrying: backoff');

/** Runs `fn` until it commits (retrying aborts), up to `tries`. */
export async function retrying<T>(fn: () => Promise<T>, tries = 200): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof TransactionAbortedError) || i >= tries) throw err;
      await new Promise((r) => setTimeout(r, backoff() * 3));
    }
  }
}

export function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
