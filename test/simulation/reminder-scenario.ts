/**
 * Durable reminders as a seeded simulation (issue #18): grains hold periodic reminders on a
 * 3-silo cluster while silos crash or stop and are replaced, partition and heal, pause, and
 * messages, grain-state writes and reminder-store calls fail. A client registers some
 * reminders and removes some mid-run; some reminders remove themselves or register
 * themselves again (another period) from inside `receiveReminder`, i.e. while one of their
 * ticks is being delivered. Then the faults stop and the cluster runs calm for a while. The
 * run returns what broke the promise of docs/reminders.md ("Delivery"), checked tick by
 * tick. A registration is in force from the moment it is stored until it is replaced or
 * removed; its ticks are `first + k·period` (a one-shot reminder has just `first`).
 *
 * - **Every tick is handled.** Each tick that came due while its registration was in force
 *   is delivered at least once (its `receiveReminder` ran and the grain stored it), unless a
 *   documented rule accounts for it:
 *   - it was **given up** (logged), and only as documented: after 10 attempts, or when its
 *     next retry would come no earlier than the next regular tick (never, for a one-shot);
 *   - it was **passed over**: the reminder "moves on to its first tick after now", and the
 *     store shows it moved from an earlier tick straight past this one at a time when this
 *     one was already due;
 *   - the registration was **replaced or removed** first ("a grain that registers, replaces
 *     or removes a reminder while a tick of it is being delivered wins"): the tick stored
 *     then (and any after it) is excused if a firing of it had begun (the silo read the
 *     reminder, even if the store failed that read), or it had come due within a poll
 *     period, or the store failed a poll of its partition meanwhile (the next poll finds
 *     it). A tick due longer than that, which no silo had started to fire, is a problem.
 * - **Never early, never off the schedule:** every delivery is of a tick of a registration
 *   that came due while that registration was in force, its `firingId` is
 *   `name:scheduledAt`, and it runs no earlier than that tick. So no tick of a replaced
 *   registration that came due after the replacement, and no tick that came due after a
 *   removal, is ever delivered.
 * - **Removal is final:** nothing of a removed reminder is delivered once the cluster went
 *   quiet after the chaos (a firing under way at the removal has landed by then), and it is
 *   not stored at the end; a periodic reminder never removed is still stored, a one-shot
 *   one is not ("removed after receiveReminder returns").
 * - **Calm means on time:** once the faults stop, the cluster healed and one poll period
 *   passed, every tick is delivered at its first attempt, at most one poll period late (the
 *   documented worst case, a takeover or a registration on another silo, is that late).
 *
 * What the grains received is read back from their stored state. What silos and grains did
 * with the stored reminders (registrations, moves, removals, the reads that start a firing)
 * is observed by a thin wrapper around the real in-memory reminder store, which records
 * each call and passes it on; while the faults last it also fails some calls, since the
 * simulation's storage faults reach grain state but not the reminder store.
 */
import { reminderPartition } from '../../runtime/index.js';
import { Grain, memoryStorage, type Logger, type ReminderAdvance, type ReminderRecord, type ReminderStore, type ReminderTick } from '../../index.js';
import { SeededRandom, TestCluster, type SimulationFaults } from '../../testing.js';
import { chaosFaults, type ScenarioResult } from './scenarios.js';

const SEC = 1_000;
/** The silos' reminder poll period (the default, named here because the checks use it). */
const POLL_MS = 1_000;
/** The default retry policy (docs/reminders.md: 1 s, doubled, up to 5 min; 10 attempts). */
const RETRY = { maxAttempts: 10, baseDelayMs: 1_000, maxDelayMs: 300_000 };
/** The period a `shiftN` reminder registers itself again with (see `receiveReminder`). */
const SHIFTED_PERIOD_MS = 4_000;

interface Delivery {
  name: string;
  firingId: string;
  scheduledAt: number;
  attempt: number;
  /** Simulated time at which receiveReminder ran. */
  at: number;
}

interface StoreLog {
  /** Registrations stored, with the registration they replaced. */
  puts: { at: number; first: number; periodMs: number | undefined; replaced: ReminderRecord | undefined }[];
  /** Removals that found the reminder, with what was stored just before. */
  removals: { at: number; stored: ReminderRecord }[];
  /** Consistent reads of it (a firing starts with one), including those the store failed. */
  reads: number[];
  /** Moves after a tick that the store applied. */
  advances: { at: number; from: number; to: number | undefined; version: number }[];
}

/** A registration in force from `from` until `until` (replaced or removed; Infinity: still stored). */
interface Epoch {
  from: number;
  until: number;
  first: number;
  /** 0: a one-shot reminder. */
  periodMs: number;
  /** What was stored when it ended (the tick then due or being delivered). */
  endStored: ReminderRecord | undefined;
  ended: 'replaced' | 'removed' | undefined;
}

export interface ReminderScenarioOptions {
  faults?: SimulationFaults;
  /** Grains holding reminders (default 5). */
  grains?: number;
  /** Simulated time under faults (default 2 minutes). */
  chaosMs?: number;
  /** Simulated time without faults afterwards (default 30 s). */
  calmMs?: number;
}

/** See the file comment. */
export async function remindersFire(seed: number, options: ReminderScenarioOptions = {}): Promise<ScenarioResult> {
  const logs = new Map<string, StoreLog>();
  const logOf = (grain: string, name: string): StoreLog => {
    const k = `${grain} ${name}`;
    let l = logs.get(k);
    if (l === undefined) logs.set(k, (l = { puts: [], removals: [], reads: [], advances: [] }));
    return l;
  };
  let now = () => 0;
  // The simulation's storage faults reach grain state only: the reminder store fails here,
  // at the grain state's rate while the faults last, half before and half after the
  // operation landed (as a database behind a network fails), from a stream of the seed.
  let storeErrorRate = 0;
  const storeRandom = new SeededRandom((seed ^ 0x2545f491) >>> 0);
  const fault = (): 'before' | 'after' | undefined => (storeRandom.chance(storeErrorRate) ? (storeRandom.next() < 0.5 ? 'before' : 'after') : undefined);
  /** Partition → times at which a silo's poll of it failed (it then holds nothing new from it until the next). */
  const pollFailures = new Map<number, number[]>();
  const base = memoryStorage();
  const store = observed(base.reminders, () => now(), logOf, fault, seed, (p) => pollFailures.set(p, [...(pollFailures.get(p) ?? []), now()]));
  // The real memory storage, with its reminder store seen through the recorder.
  const storage = Object.create(base, { reminders: { value: store, enumerable: true, configurable: true, writable: true } }) as typeof base;

  /** Ticks the silos gave up (logged as `tick <firingId> given up after n failed attempt(s)`), by `grain firingId`. */
  const gaveUp = new Map<string, { at: number; attempts: number }[]>();
  const logger: Logger = {
    debug() {}, info() {}, error() {},
    warn(_msg, fields) {
      const m = fields?.err instanceof Error ? /^tick (\S+) given up after (\d+) failed/.exec(fields.err.message) : null;
      if (m) {
        const k = `${String(fields!.grain)} ${m[1]}`;
        gaveUp.set(k, [...(gaveUp.get(k) ?? []), { at: now(), attempts: Number(m[2]) }]);
      }
    },
    child() { return logger; },
  };

  /** Every receiveReminder run, stored or not (a run whose state write failed is retried). */
  const runs: (Delivery & { grain: string })[] = [];
  class Ticker extends Grain<{ received: Delivery[]; shifted: string[] }> {
    static grainType = 'SimTicker';
    // Idle sooner than the shortest period: most ticks activate their grain afresh.
    static idleTimeoutMs = 1_500;
    protected override initialState() { return { received: [] as Delivery[], shifted: [] as string[] }; }
    /** `periodMs` 0: a one-shot reminder. */
    async set(name: string, at: Date, periodMs: number): Promise<void> { await this.registerReminder(name, periodMs > 0 ? { at, periodMs } : { at }); }
    async remove(name: string): Promise<boolean> { return this.unregisterReminder(name); }
    async received(): Promise<Delivery[]> { return this.state.received; }
    /**
     * Records the tick. Once N ticks arrived, `stopN` removes itself and `shiftN` registers
     * itself again, every SHIFTED_PERIOD_MS from 1.5 s after the tick: both while the tick
     * is being delivered, the race the docs settle for the grain ("the grain wins"). The
     * old ticks are `at + k·P` with P an even multiple of 500 ms (2, 3, 5, 20, 30 s), the new
     * ones `tick + 1.5 s + j·4 s`, an odd multiple of 500 ms off the old ones: they never
     * coincide, so each delivery tells which registration it belongs to.
     */
    async receiveReminder(name: string, tick: ReminderTick): Promise<void> {
      const d: Delivery = { name, firingId: tick.firingId, scheduledAt: tick.scheduledAt.getTime(), attempt: tick.attempt, at: now() };
      runs.push({ grain: `SimTicker/${this.key}`, ...d });
      this.state.received.push(d);
      const m = /^(stop|shift)(\d+)$/.exec(name);
      if (m !== null && this.state.received.filter((x) => x.name === name).length >= Number(m[2])) {
        if (m[1] === 'stop') await this.unregisterReminder(name);
        else if (!this.state.shifted.includes(name)) {
          this.state.shifted.push(name);
          await this.registerReminder(name, { at: new Date(d.scheduledAt + 1_500), periodMs: SHIFTED_PERIOD_MS });
        }
      }
      await this.writeState();
    }
  }

  const cluster = await TestCluster.start({
    silos: 3, grains: [Ticker], seed, faults: {}, storage, logger, responseTimeoutMs: 2_000,
    collectionQuantumMs: 250, reminders: { pollMs: POLL_MS },
  });
  now = () => cluster.clock.now();
  const problems: string[] = [];
  const start = cluster.clock.now();
  const chaosMs = options.chaosMs ?? 120 * SEC;
  const calmMs = options.calmMs ?? 30 * SEC;
  const keys = Array.from({ length: options.grains ?? 5 }, (_, i) => `g${i}`);
  // Short periods: many ticks, and late ones passed over. Long ones: room for a failed tick's
  // retries (1, 2, 4, 8 s…) before the next tick, so the retry rules are exercised too.
  const periods = [2 * SEC, 3 * SEC, 5 * SEC, 20 * SEC, 30 * SEC];
  /** The reminders the run registered (the first registration; later ones are read from the store). */
  const planned = new Map<string, { grain: string; name: string; at: number; /** 0: one-shot */ periodMs: number }>();
  let chaos = 0;
  let opsFailed = 0;

  /** A call retried until it gets an answer (a lost reply leaves its effect unknown; these calls are idempotent). */
  const persist = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (;;) {
      try { return await fn(); } catch { opsFailed++; await cluster.sleep(500); }
    }
  };
  const register = async (key: string, name: string, oneShot = false) => {
    const periodMs = oneShot ? 0 : cluster.random.pick(periods);
    // `at`, not `dueMs`: a retried registration then stores the same schedule again.
    const at = cluster.clock.now() + cluster.random.int(SEC, oneShot ? chaosMs : periodMs);
    planned.set(`SimTicker/${key} ${name}`, { grain: `SimTicker/${key}`, name, at, periodMs });
    await persist(() => cluster.client.getGrain(Ticker, key).set(name, new Date(at), periodMs));
  };

  try {
    // Set-up without faults: every grain gets a reminder, some a second that removes or
    // registers itself again after a few ticks (under the faults, mostly).
    for (const k of keys) {
      await register(k, 'a');
      const r = cluster.random.next();
      if (r < 0.3) await register(k, `stop${cluster.random.int(3, 30)}`);
      else if (r < 0.6) await register(k, `shift${cluster.random.int(3, 30)}`);
      if (cluster.random.chance(0.5)) await register(k, 'once', true);
    }
    const faults = options.faults ?? chaosFaults;
    cluster.setFaults(faults);
    storeErrorRate = faults.storageErrorRate ?? 0;
    const chaosEnd = cluster.clock.now() + chaosMs;
    const chaosLoop = async () => {
      while (cluster.clock.now() < chaosEnd) {
        await cluster.sleep(cluster.random.int(200, 3_000));
        const r = cluster.random.next();
        if (r < 0.2) {
          // A crash (its partitions move once the membership drops it) or a graceful stop
          // (they move at once, while its firings under way finish), then a fresh silo.
          const i = cluster.random.int(0, cluster.silos.length - 1);
          if (r < 0.13) await cluster.killSilo(i);
          else await cluster.stopSilo(i);
          await cluster.startSilo();
        } else if (r < 0.45) {
          const cut = cluster.random.int(1, cluster.silos.length - 1);
          const all = cluster.silos.map((_, i) => i);
          await cluster.partition(all.slice(0, cut), all.slice(cut));
        } else if (r < 0.65) {
          await cluster.pauseSilo(cluster.random.int(0, cluster.silos.length - 1), cluster.random.int(100, 2_500));
        } else {
          await cluster.heal();
        }
        chaos++;
      }
    };
    // Mid-chaos, by a client: new reminders a third of the way in, removals two thirds in
    // (one set up before the faults, one registered under them).
    const changes = async () => {
      await cluster.sleep(chaosMs / 3);
      const late = [keys[0]!, keys[1 % keys.length]!];
      for (const k of late) await register(k, 'late');
      await register(keys[2 % keys.length]!, 'late-once', true);
      await cluster.sleep(chaosMs / 3);
      await persist(() => cluster.client.getGrain(Ticker, keys[keys.length - 1]!).remove('a'));
      await persist(() => cluster.client.getGrain(Ticker, late[0]!).remove('late'));
    };
    await Promise.all([chaosLoop(), changes()]);

    cluster.setFaults({});
    storeErrorRate = 0;
    await cluster.heal();
    await cluster.runUntilQuiet();
    const quietAt = cluster.clock.now();
    // A poll period for the silos' holdings to match the store again (as after a takeover).
    const calmFrom = quietAt + POLL_MS;
    await cluster.sleep(calmMs);
    // A one-shot reminder is retried until delivered (or 10 attempts, backing off up to
    // 256 s): one whose retries the faults pushed past the calm phase is waited for.
    const oneShots = [...planned.values()].filter((p) => p.periodMs === 0);
    for (let waited = 0; waited < 600 * SEC; waited += 5 * SEC) {
      const pending = await Promise.all(oneShots.map((p) => base.reminders.get(p.grain, p.name)));
      if (pending.every((r) => r === undefined || r.periodMs !== undefined)) break;
      await cluster.sleep(5 * SEC);
    }
    await cluster.runUntilQuiet();
    const end = cluster.clock.now();

    const stored = new Map<string, Delivery[]>();
    const remaining = new Map<string, string[]>();
    for (const k of keys) {
      const ref = cluster.client.getGrain(Ticker, k);
      stored.set(`SimTicker/${k}`, await persist(() => ref.received()));
      remaining.set(`SimTicker/${k}`, (await base.reminders.list(`SimTicker/${k}`)).map((r) => r.name));
    }

    const stats = { reminders: planned.size, registrations: 0, ticks: 0, delivered: 0, duplicates: 0, gaveUp: 0, passedOver: 0, supersededWhileDue: 0, runs: runs.length, retriedRuns: runs.filter((r) => r.attempt > 1).length, chaos, opsFailed, simulatedMs: 0 };
    const rel = (t: number) => `${t - start} ms`;
    for (const plan of planned.values()) {
      const log = logOf(plan.grain, plan.name);
      const registered = plan.periodMs > 0 ? `registered every ${plan.periodMs} ms from ${rel(plan.at)}` : `registered once, for ${rel(plan.at)}`;
      const say = (what: string) => problems.push(`${plan.grain} reminder "${plan.name}" (${registered}): ${what}; ${cluster.seedNote}`);
      if (log.puts.length === 0) { say('never stored, though registerReminder answered'); continue; }
      const p0 = log.puts[0]!;
      if (p0.first !== plan.at || (p0.periodMs ?? 0) !== plan.periodMs) say(`first stored with first tick ${rel(p0.first)} every ${p0.periodMs} ms, not as registered`);
      const removal = log.removals[0];
      if (removal !== undefined && log.puts.some((p) => p.at > removal.at)) say(`stored again at ${rel(log.puts.find((p) => p.at > removal.at)!.at)} after its removal at ${rel(removal.at)}`);
      const epochs: Epoch[] = log.puts.map((p, i) => {
        const next = log.puts[i + 1];
        return {
          from: p.at, until: next?.at ?? removal?.at ?? Infinity, first: p.first, periodMs: p.periodMs ?? 0,
          endStored: next !== undefined ? next.replaced : removal?.stored,
          ended: next !== undefined ? 'replaced' : removal !== undefined ? 'removed' : undefined,
        };
      });
      stats.registrations += epochs.length;
      const onGrid = (e: Epoch, t: number) => (e.periodMs === 0 ? t === e.first : t >= e.first && (t - e.first) % e.periodMs === 0);
      const last = epochs.at(-1)!;

      // Never early, never off the schedule, never a tick that came due after its registration
      // ended (one due at that very moment came due while it was in force: the grain ends it from that tick).
      for (const r of runs.filter((x) => x.grain === plan.grain && x.name === plan.name)) {
        if (r.firingId !== `${plan.name}:${r.scheduledAt}`) say(`delivered firingId ${r.firingId} for tick ${rel(r.scheduledAt)}`);
        if (r.at < r.scheduledAt) say(`delivered tick ${rel(r.scheduledAt)} early, at ${rel(r.at)}`);
        const mine = epochs.filter((e) => onGrid(e, r.scheduledAt));
        if (mine.length === 0) say(`delivered tick ${rel(r.scheduledAt)} (at ${rel(r.at)}), which is on no schedule it was registered with`);
        else if (!mine.some((e) => r.scheduledAt <= e.until)) {
          const e = mine.at(-1)!;
          say(`delivered tick ${rel(r.scheduledAt)} (attempt ${r.attempt}, at ${rel(r.at)}), which came due after its registration was ${e.ended} at ${rel(e.until)}`);
        }
        if (removal !== undefined && removal.at < quietAt && r.at > quietAt) say(`delivered tick ${rel(r.scheduledAt)} at ${rel(r.at)}, after its removal at ${rel(removal.at)} and after the cluster went quiet at ${rel(quietAt)}`);
      }
      const isStored = remaining.get(plan.grain)!.includes(plan.name);
      if (removal !== undefined && isStored) say(`still stored at the end, though removed at ${rel(removal.at)}`);
      // "A one-shot reminder is removed after receiveReminder returns" (or once given up).
      if (removal === undefined && last.periodMs > 0 && !isStored) say('no longer stored at the end, though never removed');
      if (last.periodMs === 0 && isStored) say('a one-shot reminder still stored at the end');

      // Every tick handled.
      const got = (stored.get(plan.grain) ?? []).filter((d) => d.name === plan.name);
      const byTick = new Map<number, Delivery[]>();
      for (const d of got) byTick.set(d.scheduledAt, [...(byTick.get(d.scheduledAt) ?? []), d]);
      for (const e of epochs) {
        for (let t = e.first; t <= e.until && t < end - POLL_MS; t = e.periodMs > 0 ? t + e.periodMs : Infinity) {
          stats.ticks++;
          const ds = byTick.get(t) ?? [];
          if (ds.length > 1) stats.duplicates += ds.length - 1;
          const near = () => {
            const window = Math.max(3 * e.periodMs, 10 * SEC);
            const moves = log.advances.filter((a) => Math.abs(a.at - t) <= window).map((a) => `${rel(a.at)}: ${rel(a.from)}→${a.to === undefined ? 'removed' : rel(a.to)}`);
            const ticks = got.filter((d) => Math.abs(d.scheduledAt - t) <= window).map((d) => rel(d.scheduledAt));
            return `store moves near it: ${moves.join(', ') || 'none'}; deliveries near it: ${ticks.join(', ') || 'none'}`;
          };
          if (t >= calmFrom && e === last) {
            // Calm: delivered, first attempt, at most a poll period late.
            const first = ds[0];
            if (first === undefined) say(`tick ${rel(t)} was not delivered, though it came due with the faults over and the cluster healed (calm from ${rel(calmFrom)}; ${near()})`);
            else if (first.attempt !== 1 || first.at - t > POLL_MS) say(`tick ${rel(t)}, due with the faults over, was first delivered at attempt ${first.attempt}, ${first.at - t} ms late (expected: first attempt, at most ${POLL_MS} ms late)`);
            else stats.delivered++;
            continue;
          }
          if (ds.length > 0) { stats.delivered++; continue; }
          const given = gaveUp.get(`${plan.grain} ${plan.name}:${t}`);
          if (given !== undefined) {
            stats.gaveUp++;
            // Only as documented: after maxAttempts, or when the retry would come no earlier than the next regular tick.
            for (const g of given) {
              const retryAt = g.at + Math.min(RETRY.maxDelayMs, RETRY.baseDelayMs * 2 ** (g.attempts - 1));
              const nextTick = e.periodMs === 0 ? Infinity : e.first + (Math.floor((g.at - e.first) / e.periodMs) + 1) * e.periodMs;
              if (g.attempts < RETRY.maxAttempts && retryAt < nextTick) say(`tick ${rel(t)} was given up at ${rel(g.at)} after ${g.attempts} failed attempt(s), though its retry (at ${rel(retryAt)}) came before the next regular tick (${rel(nextTick)}) and attempts were left`);
            }
            continue;
          }
          // "Moves on to its first tick after now": this registration moved from an earlier tick past this one, once it was due.
          if (log.advances.some((a) => a.at >= e.from && a.at <= e.until && a.from < t && a.to !== undefined && a.to > t && a.at >= t)) { stats.passedOver++; continue; }
          // The grain wins: replaced or removed while the tick then stored was being delivered
          // (a firing of it had begun: it reads the reminder first, even if the store failed
          // that read), or had only just come due (within a poll period), or could not be seen
          // because the store failed the poll of its partition (the next poll finds it).
          const s = e.endStored;
          if (s !== undefined && t >= s.scheduledAt) {
            const begun = log.reads.some((at) => at >= s.dueAt && at <= e.until);
            const unseen = (pollFailures.get(reminderPartition(plan.grain, store.partitions)) ?? []).some((at) => at >= s.dueAt - 2 * POLL_MS && at <= e.until);
            if (begun || unseen || e.until - s.dueAt <= POLL_MS) { stats.supersededWhileDue++; continue; }
            say(`tick ${rel(t)} was never delivered: the registration was ${e.ended} at ${rel(e.until)}, when its stored tick ${rel(s.scheduledAt)} had been due since ${rel(s.dueAt)} and no firing of it had begun (${near()})`);
            continue;
          }
          say(`tick ${rel(t)} was never delivered, not given up and not passed over (${near()})`);
        }
      }
    }
    stats.simulatedMs = cluster.clock.now() - start;
    return { seed, problems, stats };
  } finally {
    await cluster.stop();
  }
}

/**
 * `inner`, recording what silos and grains do to each reminder (and when), failing where
 * `fault` says: before the operation (nothing happened, nothing recorded) or after it landed
 * (recorded: it happened, though the caller hears an error).
 */
function observed(
  inner: ReminderStore, now: () => number, logOf: (grain: string, name: string) => StoreLog,
  fault: () => 'before' | 'after' | undefined, seed: number, pollFailed: (partition: number) => void,
): ReminderStore {
  const run = async <T>(op: string, call: () => Promise<T>, record?: (v: T) => void): Promise<T> => {
    const f = fault();
    const err = () => new Error(`injected reminder store fault (simulation seed ${seed}): ${op} ${f === 'before' ? 'failed before reaching storage' : 'landed, but its answer was lost'}`);
    if (f === 'before') throw err();
    const v = await call();
    record?.(v);
    if (f === 'after') throw err();
    return v;
  };
  return {
    get partitions() { return inner.partitions; },
    put: (input) => run('put', async () => {
      const replaced = await inner.get(input.grain, input.name);
      return { replaced, r: await inner.put(input) };
    }, ({ replaced }) => logOf(input.grain, input.name).puts.push({ at: now(), first: input.scheduledAt, periodMs: input.periodMs, replaced })).then((x) => x.r),
    remove: (grain, name) => run('remove', async () => {
      const before = await inner.get(grain, name);
      return { before, existed: await inner.remove(grain, name) };
    }, ({ before, existed }) => { if (existed && before !== undefined) logOf(grain, name).removals.push({ at: now(), stored: before }); }).then((x) => x.existed),
    get: (grain, name) => {
      logOf(grain, name).reads.push(now());
      return run('get', () => inner.get(grain, name));
    },
    list: (grain) => run('list', () => inner.list(grain)),
    due: (partition, until, limit) => run('due', () => inner.due(partition, until, limit)).catch((err: unknown) => { pollFailed(partition); throw err; }),
    advance: (record: ReminderRecord, next: ReminderAdvance | undefined) => run('advance', () => inner.advance(record, next), (ok) => {
      if (ok) logOf(record.grain, record.name).advances.push({ at: now(), from: record.scheduledAt, to: next?.scheduledAt, version: record.version });
    }),
  };
}
