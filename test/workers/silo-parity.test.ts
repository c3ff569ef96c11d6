/**
 * The portable behaviour suite against a Node silo's gateway, with the grain classes the
 * Worker hosts: the reference the Worker is held to (worker.test.ts runs the same suite).
 */
import { afterAll, beforeAll } from 'vitest';
import { Silo, type GrainClient } from 'granary';
import { sampleGrains } from '../../grains/index.js';
import { testGrains } from '../fixtures/grains.js';
import { Probe } from '../gateway/grains.js';
import { describeGrainBehaviour, httpClient } from './behaviour-suite.js';
import { FilterProbe, probeFilters } from '../fixtures/filters.js';
import { workerTestGrains } from './grains.js';

let silo: Silo;
let client: GrainClient;

beforeAll(async () => {
  silo = await Silo.start({ grains: [...sampleGrains, ...testGrains, Probe, ...workerTestGrains, FilterProbe],
    filters: probeFilters,
    gateway: { port: 0, host: '127.0.0.1' },
    drainTimeoutMs: 200, // Gate.never's turn never ends; stop need not wait for it
  });
  client = httpClient(silo.gateway!.url);
});

afterAll(async () => {
  await client?.close();
  await silo?.stop();
});

describeGrainBehaviour('Node silo', () => client);
