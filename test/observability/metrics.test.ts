/**
 * The metrics this issue adds, as `GET /metrics` renders them: storage latency by operation,
 * activations by type with activation and deactivation totals (Prometheus names), and the
 * dashboard's latency quantiles read from the same histogram.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo } from '../../index.js';
import { LATENCY_BUCKETS } from '../../silo/metrics.js';
import { quantileMs } from '../../silo/dashboard-data.js';
import { Back, Front } from './grains.js';

describe('metrics', () => {
  let silo: Silo;
  beforeAll(async () => { silo = await Silo.start({ grains: [Front, Back], gateway: { port: 0, host: '127.0.0.1' } }); });
  afterAll(() => silo?.stop());

  it('storage latency by operation, activations by type, activation and deactivation totals', async () => {
    for (let i = 0; i < 3; i++) await silo.getGrain(Front, `f${i}`).relay(`b${i}`);
    await silo.admin.deactivate('Back', 'b0');
    const text = await (await fetch(`${silo.gateway!.url}/metrics`)).text();
    expect(text).toContain('# TYPE granary_storage_operation_duration_seconds histogram');
    expect(text).toMatch(/^granary_storage_operation_duration_seconds_count\{operation="write"\} 3$/m);
    expect(text).toMatch(/^granary_storage_operation_duration_seconds_count\{operation="read"\} 6$/m); // 3 Front, 3 Back activations
    expect(text).toMatch(/^granary_storage_operation_duration_seconds_bucket\{operation="write",le="\+Inf"\} 3$/m);
    expect(text).toMatch(/^granary_activations\{type="Back"\} 2$/m);
    expect(text).toMatch(/^granary_activations\{type="Front"\} 3$/m);
    expect(text).toMatch(/^granary_activations_total 6$/m);
    expect(text).toMatch(/^granary_deactivations_total 1$/m);
    // The in-memory transport keeps no count: the gauge is there on NATS only (test/observability/processes.test.ts).
    expect(text).not.toContain('granary_transport_requests_in_flight');
  });

  it('p50 and p99 are the upper bounds of the buckets that hold them', () => {
    const buckets = new Array(LATENCY_BUCKETS.length + 1).fill(0);
    buckets[0] = 90; // ≤ 0.5 ms
    buckets[6] = 9; // ≤ 50 ms
    buckets[LATENCY_BUCKETS.length] = 1; // past the last bound
    expect(quantileMs(buckets, 0.5)).toBe(0.5);
    expect(quantileMs(buckets, 0.99)).toBe(50);
    expect(quantileMs(buckets, 1)).toBe(Infinity);
    expect(quantileMs(new Array(LATENCY_BUCKETS.length + 1).fill(0), 0.5)).toBeNull();
  });
});
