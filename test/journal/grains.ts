/** Journaled grains for the behaviour suites (silos, TestCluster and Workers alike). */
import { Grain, InvalidArgumentError, JournaledGrain } from 'granary';

export type LedgerEvent =
  | { type: 'credit'; amount: bigint; at: Date; tags: Map<string, string> }
  | { type: 'boom' };

export interface LedgerState { balance: bigint; last: Date | null; tags: Map<string, string>; credits: number }

/** Rich values in events and state (BigInt, Date, Map), small snapshots, a projection. */
export class JLedger extends JournaledGrain<LedgerState, LedgerEvent> {
  static grainType = 'JLedger';
  static override snapshotEvery = 5;
  static override journalStream = 'ledgers';

  protected override initialState(): LedgerState {
    return { balance: 0n, last: null, tags: new Map(), credits: 0 };
  }

  protected override apply(s: LedgerState, e: LedgerEvent): void {
    if (e.type === 'boom') throw new Error('apply refused a boom event');
    s.balance += e.amount;
    s.last = e.at;
    for (const [k, v] of e.tags) s.tags.set(k, v);
    s.credits++;
  }

  async credit(amount: bigint, at = new Date(0), tags: Record<string, string> = {}): Promise<{ balance: bigint; version: number }> {
    this.raiseEvent({ type: 'credit', amount, at, tags: new Map(Object.entries(tags)) });
    await this.confirmEvents();
    return { balance: this.state.balance, version: this.version };
  }

  /** `n` events in one batch: appended together or not at all. */
  async creditMany(n: number, amount: bigint): Promise<number> {
    this.raiseEvents(Array.from({ length: n }, () => ({ type: 'credit' as const, amount, at: new Date(0), tags: new Map() })));
    await this.confirmEvents();
    return this.version;
  }

  /** Raised, never confirmed: visible in this activation's state only. */
  async creditTentatively(amount: bigint): Promise<{ balance: bigint; version: number }> {
    this.raiseEvent({ type: 'credit', amount, at: new Date(0), tags: new Map() });
    return { balance: this.state.balance, version: this.version };
  }

  /** A credit, then an event apply refuses: the call rejects and neither stays. */
  async creditThenBoom(amount: bigint): Promise<void> {
    this.raiseEvent({ type: 'credit', amount, at: new Date(0), tags: new Map() });
    this.raiseEvent({ type: 'boom' });
    await this.confirmEvents();
  }

  async unencodable(): Promise<void> {
    this.raiseEvent({ type: 'credit', amount: 1n, at: new Date(0), tags: new Map([['f', (() => 1) as unknown as string]]) });
    await this.confirmEvents();
  }

  async writeDirectly(): Promise<void> {
    await this.writeState();
  }

  async view(): Promise<LedgerState & { version: number }> {
    return { ...this.state, version: this.version };
  }

  async events(from: number, to: number): Promise<LedgerEvent[]> {
    return this.retrieveConfirmedEvents(from, to);
  }

  async creditInTransaction(amount: bigint): Promise<void> {
    await this.transaction(async () => {
      this.raiseEvent({ type: 'credit', amount, at: new Date(0), tags: new Map() });
      await this.confirmEvents();
    });
  }

  async bye(): Promise<void> {
    this.deactivateOnIdle();
  }
}

/** Interleaving turns share one journal: every confirm waits for its own events. */
export class JTally extends JournaledGrain<{ total: number }, { add: number }> {
  static grainType = 'JTally';
  static reentrant = true;
  static override snapshotEvery = 0;
  protected override initialState() { return { total: 0 }; }
  protected override apply(s: { total: number }, e: { add: number }) { return { total: s.total + e.add }; }
  async add(n: number): Promise<{ total: number; version: number }> {
    if (!Number.isFinite(n)) throw new InvalidArgumentError('add takes a number');
    this.raiseEvent({ add: n });
    // A pause between raise and confirm lets other turns raise meanwhile.
    await new Promise((r) => setTimeout(r, 0));
    await this.confirmEvents();
    return { total: this.state.total, version: this.version };
  }
  async total(): Promise<{ total: number; version: number }> {
    return { total: this.state.total, version: this.version };
  }
}

/** A plain grain that calls a journaled one inside a transaction it coordinates. */
export class JTxnCaller extends Grain {
  static grainType = 'JTxnCaller';
  async creditInside(ledger: string): Promise<void> {
    await this.transaction(async () => {
      await this.getGrain(JLedger, ledger).credit(5n);
    });
  }
}

export const journalTestGrains = [JLedger, JTally, JTxnCaller];
