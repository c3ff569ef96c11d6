/**
 * Load for chaos tests: loops of calls whose every outcome is recorded, so that a test can say
 * exactly what failed (counted by error), which counters differ from their acknowledged adds
 * and by how much, and how many calls per second went through in any window of the run.
 *
 * Counters: each key belongs to one loop, which calls it one call at a time, so the value an
 * `add(1)` answers is fully determined by what came before: one more than the last answer,
 * plus at most the adds on that key whose outcome is unknown (they failed, and may have run).
 * An answer outside that range means an acknowledged add is missing from the state the grain
 * answered from (a lost write, or a second activation working from older state), or an add
 * was applied that no caller sent.
 */

/** One finished call: what it was, on which key, when it started and ended (performance.now()), and how it failed if it did. */
export interface CallOutcome {
  kind: string;
  key: string;
  start: number;
  end: number;
  /** Why the call failed. */
  error?: unknown;
  /** Why it ended without its effect but not as a failure (a transaction's abort: nothing applied, and the caller is told so). */
  aborted?: unknown;
}

/** `Name (code)` of an error, the unit failures are counted by. */
export function errorLabel(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : typeof err;
  return typeof e?.code === 'string' ? `${name} (${e.code})` : name;
}

/** Every outcome of a run, with the counts a report and a failure message need. */
export class Outcomes {
  readonly list: CallOutcome[] = [];
  /** Calls started and not yet finished. */
  inFlight = 0;
  /** Keys with a call in flight, and how many. */
  private readonly pending = new Map<string, number>();

  /** Runs `call`, recording its outcome (`isFailure` false: an abort, not a failure); never rejects. */
  async track<T>(kind: string, key: string, call: () => Promise<T>, isFailure: (err: unknown) => boolean = () => true): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    const start = performance.now();
    this.inFlight++;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    try {
      const value = await call();
      this.list.push({ kind, key, start, end: performance.now() });
      return { ok: true, value };
    } catch (error) {
      // An outcome the caller does not count as a failure (a transaction's clean abort) is still recorded, as not ok.
      const end = performance.now();
      this.list.push(isFailure(error) ? { kind, key, start, end, error } : { kind, key, start, end, aborted: error });
      return { ok: false, error };
    } finally {
      this.inFlight--;
      const n = this.pending.get(key)! - 1;
      if (n === 0) this.pending.delete(key);
      else this.pending.set(key, n);
    }
  }

  /** Keys with a call in flight now, sorted (so a seeded pick among them repeats as far as the schedule does). */
  keysInFlight(): string[] {
    return [...this.pending.keys()].sort();
  }

  failures(): CallOutcome[] {
    return this.list.filter((o) => o.error !== undefined);
  }

  /** Failed calls counted by `errorLabel`, most frequent first. */
  failuresByError(): [string, number][] {
    const by = new Map<string, number>();
    for (const f of this.failures()) by.set(errorLabel(f.error), (by.get(errorLabel(f.error)) ?? 0) + 1);
    return [...by].sort((a, b) => b[1] - a[1]);
  }

  /** Successful calls that ended in [from, to). */
  succeededIn(from: number, to: number): number {
    let n = 0;
    for (const o of this.list) if (o.error === undefined && o.aborted === undefined && o.end >= from && o.end < to) n++;
    return n;
  }

  failedIn(from: number, to: number): number {
    let n = 0;
    for (const o of this.list) if (o.error !== undefined && o.end >= from && o.end < to) n++;
    return n;
  }

  /** Successful calls per second in [from, to). */
  rate(from: number, to: number): number {
    return to > from ? this.succeededIn(from, to) / ((to - from) / 1000) : 0;
  }
}

/** A counter whose stored value is not its count of acknowledged adds. */
export interface CounterDifference {
  key: string;
  stored: number;
  acknowledged: number;
  /** Adds on the key that failed (their outcome unknown to the caller). */
  failed: number;
}

export interface CounterLoadOptions {
  /** Concurrent loops (each one call in flight at a time). */
  loops: number;
  /** Keys each loop owns and cycles through. */
  keysPerLoop: number;
  /** Prefix of the counter keys (unique per run: counters start at 0). */
  prefix: string;
  /** Sends `add(1)` to counter `key` from loop `loop`; resolves to the value the counter answered. */
  add(loop: number, key: string): Promise<number>;
  outcomes: Outcomes;
  /** Pause after a failed call, so a loop facing a dead endpoint does not spin (default 20 ms). */
  pauseAfterFailureMs?: number;
}

/** Loops of `add(1)` on counters each loop owns, with what each counter should hold. */
export class CounterLoad {
  /** Acknowledged adds per key. */
  readonly acknowledged = new Map<string, number>();
  /** Failed adds per key (they may or may not have run). */
  readonly failed = new Map<string, number>();
  /** Answers no single activation with durable writes could give (see the module comment). */
  readonly anomalies: string[] = [];
  private readonly last = new Map<string, number>();
  private readonly failedSinceLast = new Map<string, number>();
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: CounterLoadOptions) {}

  /** Every key of the load. */
  keys(): string[] {
    return Array.from({ length: this.o.loops * this.o.keysPerLoop }, (_, i) => `${this.o.prefix}-${Math.floor(i / this.o.keysPerLoop)}-${i % this.o.keysPerLoop}`);
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.o.loops }, (_, l) => this.loop(l));
  }

  /** Stops the loops and waits for the calls in flight to finish. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(l: number): Promise<void> {
    for (let i = 0; this.running; i++) {
      const key = `${this.o.prefix}-${l}-${i % this.o.keysPerLoop}`;
      const r = await this.o.outcomes.track('add', key, () => this.o.add(l, key));
      if (r.ok) this.answered(key, r.value);
      else {
        this.failed.set(key, (this.failed.get(key) ?? 0) + 1);
        this.failedSinceLast.set(key, (this.failedSinceLast.get(key) ?? 0) + 1);
        await new Promise((res) => setTimeout(res, this.o.pauseAfterFailureMs ?? 20));
      }
    }
  }

  private answered(key: string, value: number): void {
    const last = this.last.get(key) ?? 0;
    const unknown = this.failedSinceLast.get(key) ?? 0;
    if (value < last + 1) this.anomalies.push(`${key}: answered ${value} after ${last}: an acknowledged add is missing from the state it answered from (a lost write, or a second activation on older state)`);
    else if (value > last + 1 + unknown) this.anomalies.push(`${key}: answered ${value} after ${last} with ${unknown} failed adds between: ${value - last - 1 - unknown} add(s) ran more often than they were called (a call re-sent after its write committed ran again?)`);
    this.last.set(key, value);
    this.failedSinceLast.set(key, 0);
    this.acknowledged.set(key, (this.acknowledged.get(key) ?? 0) + 1);
  }

  /** The counters whose stored value (`read`) is not their count of acknowledged adds. */
  async differences(read: (key: string) => Promise<number>): Promise<CounterDifference[]> {
    const keys = this.keys();
    const stored = await Promise.all(keys.map(read));
    const out: CounterDifference[] = [];
    keys.forEach((key, i) => {
      const acknowledged = this.acknowledged.get(key) ?? 0;
      if (stored[i] !== acknowledged) out.push({ key, stored: stored[i]!, acknowledged, failed: this.failed.get(key) ?? 0 });
    });
    return out;
  }
}

/** A failure message for counters that differ: how many, above or below, and each one. */
export function describeDifferences(diffs: CounterDifference[], total: number): string {
  if (diffs.length === 0) return 'every counter equals its acknowledged adds';
  const above = diffs.filter((d) => d.stored > d.acknowledged);
  const below = diffs.filter((d) => d.stored < d.acknowledged);
  const extra = above.reduce((n, d) => n + d.stored - d.acknowledged, 0);
  // Per key: extra adds up to its failed adds ran although their callers were told they failed; beyond that, adds ran twice.
  const ranAnyway = above.reduce((n, d) => n + Math.min(d.stored - d.acknowledged, d.failed), 0);
  const lines = diffs.map((d) => `  ${d.key}: stored ${d.stored}, acknowledged ${d.acknowledged} (${d.stored > d.acknowledged ? '+' : ''}${d.stored - d.acknowledged}), failed adds on it ${d.failed}`);
  return [
    `${diffs.length} of ${total} counters differ from their acknowledged adds: ${above.length} above by ${extra} adds in all ` +
      `(${ranAnyway} failed adds that ran anyway, ${extra - ranAnyway} adds that ran more often than they were called), ${below.length} below (acknowledged adds lost)`,
    ...lines,
  ].join('\n');
}

/** Something the test did to the system (a kill, a reset), at a time of `performance.now()`. */
export interface ChaosEvent {
  at: number;
  label: string;
}

/** Describes when a call ran against the chaos events: those during the call, else the last one before it. */
export function describeAgainst(t0: number, events: readonly ChaosEvent[]): (o: CallOutcome) => string {
  const s = (t: number) => ((t - t0) / 1000).toFixed(2);
  return (o) => {
    const during = events.filter((e) => e.at >= o.start && e.at <= o.end);
    const before = events.filter((e) => e.at < o.start).at(-1);
    const listed = during.slice(0, 3).map((e) => `${e.label} at ${s(e.at)} s`).join(', ') + (during.length > 3 ? ` and ${during.length - 3} more` : '');
    const where = during.length > 0 ? `${listed} during the call`
      : before !== undefined ? `${((o.start - before.at) / 1000).toFixed(2)} s after ${before.label}` : 'before any chaos event';
    return `started at ${s(o.start)} s (${where})`;
  };
}

/** A failure message for failed calls: how many, by error, and the first few with their times. */
export function describeFailures(outcomes: Outcomes, describe: (o: CallOutcome) => string, examples = 8): string {
  const failures = outcomes.failures();
  if (failures.length === 0) return 'no failed call';
  const by = outcomes.failuresByError().map(([label, n]) => `${label} × ${n}`).join(', ');
  const first = failures.slice(0, examples).map((f) => `  ${f.kind} ${f.key}: ${describe(f)}, failed after ${Math.round(f.end - f.start)} ms: ${errorLabel(f.error)}: ${String((f.error as Error)?.message ?? f.error).slice(0, 300)}`);
  return [`${failures.length} of ${outcomes.list.length} calls failed: ${by}`, ...first].join('\n');
}
