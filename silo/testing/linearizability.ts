/**
 * A linearizability checker for recorded client calls (`cluster.history`): could the calls
 * have happened one at a time, each at some instant between its start and its end, with
 * every result the one the grain's sequential model gives?
 *
 * The search is Wing & Gong's, with Lowe's memoisation as Porcupine implements it: calls and
 * returns in a linked list by time; repeatedly place ("linearize") a call whose turn may
 * have come, backtrack when a return is reached with its call unplaced, and never revisit a
 * (set of placed calls, model state) pair. Grains share no state, so each grain key is
 * checked on its own (P-compositionality), which keeps the sets small.
 *
 * A failed call (timeout, silo gone, storage error) may or may not have run: it counts as a
 * call that may be placed anywhere after its start, with any result, or left out.
 */
import { describeEvent, short, type HistoryEvent } from './history.js';

/** The sequential specification of a grain: what each method does to the state and returns. */
export interface LinearizabilityModel<S = unknown> {
  init(): S;
  /** Applies `method(args)` to `state` and returns the new state and the result. Must not change `state`. */
  step(state: S, method: string, args: readonly unknown[]): [S, unknown];
  /** Whether two states are the same (default: equal `key`s). */
  equal?(a: S, b: S): boolean;
  /** A string that identifies a state, for memoisation (default: `JSON.stringify(state)`). */
  key?(state: S): string;
  /** Whether a recorded result matches the model's (default: structural equality). */
  resultEqual?(model: unknown, recorded: unknown): boolean;
}

export interface CheckLinearizableOptions<S = unknown> {
  /** The grain type to check (`"Counter"`), or one grain (`"Counter/a"`); default: every call in the history. */
  grain?: string;
  model: LinearizabilityModel<S>;
  /**
   * How many (placed calls, model state) pairs the search may visit on one grain before it
   * gives up with an error (default 500,000: a few hundred MB at most). A history that no
   * order explains can take exponential time to prove so; a budget ends it with a clear
   * answer instead of running out of memory. Check fewer calls per grain, or raise it.
   */
  maxStates?: number;
}

export type LinearizabilityResult =
  | { ok: true; grains: number; operations: number }
  | {
      ok: false;
      /** The grain (`"type/key"`) whose calls cannot be linearized. */
      grain: string;
      /** What went wrong, for a test failure message. */
      explanation: string;
      /** The calls of the shortest failing prefix of that grain's history (pending ones included). */
      prefix: HistoryEvent[];
      /** The order found that the model explains and that places the most completed calls. */
      linearized: HistoryEvent[];
      /** Completed calls of the prefix that could not be placed after `linearized`. */
      unplaced: HistoryEvent[];
    };

/**
 * Checks that the calls in `history` on `grain` are linearizable with respect to `model`.
 * Returns `{ ok: true }` or `{ ok: false, explanation }` naming the first grain that fails.
 */
export function checkLinearizable<S>(history: readonly HistoryEvent[], options: CheckLinearizableOptions<S>): LinearizabilityResult {
  if (options === undefined || typeof options.model?.init !== 'function' || typeof options.model.step !== 'function') {
    throw new TypeError('checkLinearizable needs { model: { init(), step(state, method, args) } }: the sequential specification of the grain');
  }
  const groups = new Map<string, HistoryEvent[]>();
  for (const e of history) {
    const id = `${e.grain}/${e.key}`;
    if (options.grain !== undefined && options.grain !== e.grain && options.grain !== id) continue;
    let g = groups.get(id);
    if (g === undefined) groups.set(id, (g = []));
    g.push(e);
  }
  let operations = 0;
  for (const [id, events] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    operations += events.length;
    const failure = checkGrain(id, events, options.model, budget(id, options.maxStates ?? DEFAULT_MAX_STATES));
    if (failure) return failure;
  }
  return { ok: true, grains: groups.size, operations };
}

/** One call as the search sees it. */
interface Op {
  event: HistoryEvent;
  /** Must be placed (a call that completed within the history checked); else it may be left out. */
  required: boolean;
  /** May have any result (a failed call); else the model's result must be the recorded one. */
  free: boolean;
}

interface Node {
  op: number;
  /** Place in time order (for calls and returns alike). */
  pos: number;
  /** The matching return node when this is a call; undefined for a return. */
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

interface SearchResult<S> {
  ok: boolean;
  /**
   * The furthest return (by `pos`) at which some order got stuck. When the search fails, the
   * history up to that return is the shortest prefix that cannot be linearized: any order
   * that got past it would linearize that prefix.
   */
  stuckAt: number;
  /** Indexes of the ops in the order found that places the most completed calls. */
  best: number[];
  bestState: S;
}

const DEFAULT_MAX_STATES = 500_000;

/** Counts the pairs the search visits on one grain; throws past `max`. */
function budget(id: string, max: number): () => void {
  let visited = 0;
  return () => {
    if (++visited > max) {
      throw new Error(`checkLinearizable gave up on ${id} after visiting ${max.toLocaleString('en-US')} (placed calls, model state) pairs without deciding: the calls on it may or may not be linearizable; check fewer calls per grain (or raise maxStates)`);
    }
  };
}

function checkGrain<S>(id: string, events: HistoryEvent[], model: LinearizabilityModel<S>, visit: () => void): LinearizabilityResult | undefined {
  const whole = events.map((event): Op => ({ event, required: event.ok, free: !event.ok }));
  const result = search(whole, model, visit);
  return result.ok ? undefined : explain(id, events, model, whole, result, visit);
}

/** Wing & Gong with memoisation over (placed set, state). */
function search<S>(ops: Op[], model: LinearizabilityModel<S>, visit: () => void): SearchResult<S> {
  const n = ops.length;
  const resultEqual = model.resultEqual ?? deepEqual;
  const head = buildList(ops);
  const words = new Uint32Array((n + 31) >>> 5);
  const seen = memo(model);
  let state = model.init();
  const totalRequired = ops.reduce((c, o) => c + (o.required ? 1 : 0), 0);
  let requiredLeft = totalRequired;
  let bestScore = 0;
  const calls: { node: Node; state: S }[] = [];
  let best: number[] = [];
  let bestState = state;
  let stuckAt = -1;
  if (requiredLeft === 0) return { ok: true, stuckAt, best, bestState };

  let entry = head.next;
  while (entry !== undefined) {
    if (entry.match !== undefined) {
      const op = ops[entry.op]!;
      let placed = false;
      let next: S | undefined;
      try {
        const [s, result] = model.step(state, op.event.method, op.event.args);
        placed = op.free || resultEqual(result, op.event.value);
        next = s;
      } catch {
        // The model says this call cannot succeed here: a completed call cannot go here; a
        // failed one that had no effect is the same as leaving it out.
        placed = false;
      }
      if (placed) {
        words[entry.op >>> 5]! |= 1 << (entry.op & 31);
        if (seen(words, next as S)) {
          words[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
          entry = entry.next;
          continue;
        }
        visit();
        calls.push({ node: entry, state });
        state = next as S;
        if (op.required) requiredLeft--;
        lift(entry);
        // The most completed calls placed, with the fewest optional ones: the clearest story.
        const score = (totalRequired - requiredLeft) * (n + 1) - calls.length;
        if (score > bestScore) {
          bestScore = score;
          best = calls.map((c) => c.node.op);
          bestState = state;
        }
        if (requiredLeft === 0) return { ok: true, stuckAt, best, bestState };
        entry = head.next;
      } else {
        entry = entry.next;
      }
    } else {
      // A return whose call is unplaced: nothing placed so far can be extended this way.
      if (entry.pos > stuckAt) stuckAt = entry.pos;
      const top = calls.pop();
      if (top === undefined) return { ok: false, stuckAt, best, bestState };
      entry = top.node;
      state = top.state;
      words[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
      if (ops[entry.op]!.required) requiredLeft++;
      unlift(entry);
      entry = entry.next;
    }
  }
  return { ok: requiredLeft === 0, stuckAt, best, bestState };
}

/** Calls and returns by time; at equal times calls come first (the calls overlap: the permissive reading). */
function timeOrder(ops: Op[]): { call: boolean; op: number }[] {
  const entries: { time: number; call: boolean; op: number }[] = [];
  ops.forEach((o, i) => {
    entries.push({ time: o.event.start, call: true, op: i });
    entries.push({ time: o.required ? o.event.end : Infinity, call: false, op: i });
  });
  return entries.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
}

function buildList(ops: Op[]): Node {
  const head: Node = { op: -1, pos: -1, match: undefined, prev: undefined, next: undefined };
  const calls = new Map<number, Node>();
  let last = head;
  timeOrder(ops).forEach((e, pos) => {
    const node: Node = { op: e.op, pos, match: undefined, prev: last, next: undefined };
    last.next = node;
    last = node;
    if (e.call) calls.set(e.op, node);
    else calls.get(e.op)!.match = node;
  });
  return head;
}

function lift(call: Node): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** Returns a function that records (placed set, state) and says whether it was seen before. */
function memo<S>(model: LinearizabilityModel<S>): (words: Uint32Array, state: S) => boolean {
  const bitsKey = (words: Uint32Array): string => {
    let s = '';
    for (let i = 0; i < words.length; i++) s += String.fromCharCode(words[i]! & 0xffff, words[i]! >>> 16);
    return s;
  };
  if (model.equal !== undefined && model.key === undefined) {
    const equal = model.equal.bind(model);
    const buckets = new Map<string, S[]>();
    return (words, state) => {
      const k = bitsKey(words);
      const states = buckets.get(k);
      if (states === undefined) { buckets.set(k, [state]); return false; }
      if (states.some((s) => equal(s, state))) return true;
      states.push(state);
      return false;
    };
  }
  const stateKey = model.key !== undefined ? model.key.bind(model) : (s: S) => JSON.stringify(s) ?? 'undefined';
  const seen = new Set<string>();
  return (words, state) => {
    const k = `${bitsKey(words)}\u0000${stateKey(state)}`;
    if (seen.has(k)) return true;
    seen.add(k);
    return false;
  };
}

/**
 * Describes the shortest failing prefix of one grain's history (by event: each call and
 * each return is an event; a call whose return lies beyond the prefix is pending there, so
 * it may be left out, or placed with the result it later returned). The failed search names where it ends
 * (`stuckAt`); a second search on that prefix finds the longest order to show.
 */
function explain<S>(id: string, events: HistoryEvent[], model: LinearizabilityModel<S>, whole: Op[], failed: SearchResult<S>, visit: () => void): LinearizabilityResult {
  const order = timeOrder(whole);
  const cut = order[failed.stuckAt]!;
  const returnPos = new Map<number, number>();
  order.forEach((e, pos) => { if (!e.call) returnPos.set(e.op, pos); });
  let ops: Op[] = [];
  for (let pos = 0; pos <= failed.stuckAt; pos++) {
    const e = order[pos]!;
    // A call still running at the cut may or may not have taken effect yet; if it had, its
    // result was the one it later returned.
    const op = whole[e.op]!;
    if (e.call) ops.push({ event: op.event, required: op.required && returnPos.get(e.op)! <= failed.stuckAt, free: op.free });
  }
  let prefix = ops.map((o) => o.event);
  let result = search(ops, model, visit);
  if (result.ok) {
    // Not expected (see `stuckAt`); describe the whole history rather than nothing.
    ops = whole;
    prefix = events;
    result = failed;
  }
  const linearized = result.best.map((i) => ops[i]!.event);
  const placed = new Set(result.best);
  const unplaced = ops.map((o, i) => ({ o, i })).filter(({ o, i }) => o.required && !placed.has(i)).map(({ o }) => o.event);
  const last = whole[cut.op]!.event;

  const lines: string[] = [];
  lines.push(`calls on ${id} are not linearizable: no one-at-a-time order of them explains every result.`);
  lines.push(`The shortest failing prefix (${prefix.length} of ${events.length} calls) ends when this call returned:`);
  lines.push(`  ${describeEvent(last)}`);
  // Replay the order to say, for calls whose result did not have to match (failed, or still
  // running at the end of the prefix), what the model made of them.
  const notes: string[] = [];
  let replay = model.init();
  for (const i of result.best) {
    const op = ops[i]!;
    const [next, value] = model.step(replay, op.event.method, op.event.args);
    replay = next;
    const note = op.free ? `   (failed: counted as taking effect here, the model gives ${short(value)})`
      : !op.required ? '   (returned after the prefix: counted as taking effect here)' : '';
    notes.push(`  ${describeEvent(op.event)}${note}`);
  }
  const shown = notes.slice(-10);
  lines.push(`One-at-a-time order that explains the most completed calls (${notes.length} calls${notes.length > shown.length ? `, last ${shown.length} shown` : ''}):`);
  if (shown.length === 0) lines.push('  (none: not even the first call fits)');
  lines.push(...shown);
  lines.push(`After it, state ${short(result.bestState)}; these completed calls could not be placed:`);
  for (const e of unplaced.slice(0, 10)) {
    let would: string;
    try { would = `the model returns ${short(model.step(result.bestState, e.method, e.args)[1])}`; } catch (err) { would = `the model throws (${err instanceof Error ? err.message : String(err)})`; }
    lines.push(`  ${describeEvent(e)}   — here ${would}`);
  }
  if (unplaced.length > 10) lines.push(`  ... and ${unplaced.length - 10} more`);
  return { ok: false, grain: id, explanation: lines.join('\n'), prefix, linearized, unplaced };
}

/** Structural equality of plain data (what the codec carries). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
