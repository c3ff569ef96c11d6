/**
 * The cap on `x-granary-timeout-ms` (docs/deploy.md: "capped at 5 minutes"): a caller asking
 * for a longer deadline gets 504 at five minutes. The gateway app runs over a real silo;
 * only the gateway's timers are faked, so five minutes pass without waiting for them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Grain, Silo } from 'granary';
import { jsonLogger } from 'granary/internal';
import { createGatewayApp, siloBackend } from '../../silo/gateway/index.js';

let entered: () => void = () => undefined;

/** `wait()` never answers; it says when it started. */
class Hang extends Grain {
  static grainType = 'Hang';
  async wait(): Promise<void> {
    entered();
    await new Promise(() => undefined);
  }
}

let silo: Silo;
beforeAll(async () => {
  // The silo's own response timeout is far beyond the cap: only the cap can end the call.
  // (A short drain: the hanging turn must not hold up the stop after the test; the warning
  // that it was still running is expected, so not shown.)
  silo = await Silo.start({ grains: [Hang], responseTimeoutMs: 24 * 3_600_000, drainTimeoutMs: 100, logger: jsonLogger({ level: 'error' }) });
});
afterAll(async () => {
  await silo?.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('x-granary-timeout-ms cap', () => {
  it('a deadline above five minutes is cut to five minutes: 504 timeout then, not later, not sooner', async () => {
    const app = createGatewayApp(siloBackend(silo));
    const running = new Promise<void>((r) => { entered = r; });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let answered = false;
    const res = Promise.resolve(app.request('/grains/Hang/a/wait', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-granary-timeout-ms': '999999999' },
      body: '{}',
    })).finally(() => { answered = true; });
    // The gateway arms its deadline when it sends the call, before the grain runs.
    await running;

    await vi.advanceTimersByTimeAsync(5 * 60_000 - 1);
    expect(answered).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const r = await res;
    expect(r.status).toBe(504);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('timeout');
    expect(body.error.message).toContain('within 300000 ms');
  });
});
