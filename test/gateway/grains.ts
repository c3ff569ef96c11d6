/** Grains the gateway tests call over HTTP: each method shows one outcome. */
import {
  Grain, GrainError, InconsistentStateError, InvalidArgumentError, RequestContext, SiloUnavailableError,
} from 'granary';

interface ProbeState { value: number; tags: string[] }

export class Probe extends Grain<ProbeState> {
  static grainType = 'Probe';
  static interleave = ['value'];
  protected override initialState(): ProbeState { return { value: 0, tags: [] }; }

  async add(n: number): Promise<number> {
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidArgumentError(`add needs a finite number (got ${typeof n})`);
    this.state.value += n;
    await this.writeState();
    return this.state.value;
  }
  async value(): Promise<number> { return this.state.value; }
  async echo(...args: unknown[]): Promise<unknown[]> { return args; }
  async rich(): Promise<unknown> {
    return { when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), big: 2n ** 70n, map: new Map([['a', 1]]), set: new Set([1, 2]), bytes: new Uint8Array([1, 2, 255]), nothing: undefined, inf: Infinity };
  }
  async kinds(...args: unknown[]): Promise<string[]> {
    return args.map((a) => (a instanceof Date ? 'Date' : a instanceof Map ? 'Map' : a instanceof Set ? 'Set' : a instanceof Uint8Array ? 'Uint8Array' : typeof a));
  }
  async fail(message: string): Promise<never> { throw new RangeError(message); }
  async conflict(): Promise<never> { throw new InconsistentStateError('the stored version moved on'); }
  async unavailable(): Promise<never> { throw new SiloUnavailableError('the backing service is down'); }
  async invalid(): Promise<never> { throw new InvalidArgumentError('bad input', { code: 'transaction_required' }); }
  /** A grain's own error code, with the HTTP status it chose (when given). */
  async refuse(code: string, status?: number): Promise<never> { throw refusal(code, status); }
  async sleep(ms: number): Promise<string> {
    await new Promise((r) => setTimeout(r, ms));
    return 'awake';
  }
  async ctx(name: string): Promise<unknown> { return RequestContext.get(name); }
  async ctxAll(): Promise<Record<string, unknown>> { return RequestContext.snapshot(); }
  async protoOf(arg: Record<string, unknown>): Promise<{ own: string[]; plainProto: boolean }> {
    return { own: Object.keys(arg), plainProto: Object.getPrototypeOf(arg) === Object.prototype };
  }
  _secret(): string { return 'hidden'; }
}

/** Hosted only by the second silo of the two-silo tests. */
export class Remote extends Grain<{ n: number }> {
  static grainType = 'Remote';
  protected override initialState() { return { n: 0 }; }
  async bump(): Promise<number> { this.state.n++; await this.writeState(); return this.state.n; }
  async fail(): Promise<never> { throw new TypeError('remote failure'); }
  async who(): Promise<unknown> { return RequestContext.get('user'); }
  async userId(): Promise<unknown> { return RequestContext.get('userId'); }
  async refuse(code: string, status?: number): Promise<never> { throw refusal(code, status); }
}

function refusal(code: string, status: number | undefined): GrainError {
  return new GrainError(code, `refused with ${code}`, status === undefined ? undefined : { status });
}
