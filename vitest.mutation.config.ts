import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The fast suites that exercise the files stryker.config.mjs mutates. Stryker
// reruns the covering tests once per mutant, so every file here must finish in
// seconds: slower suites (processes, NATS, DynamoDB Local) stay out, and so do
// gateway suites that test other files (OpenAPI, bundling, the HTTP client).
// The transaction suite runs with a shorter bank run (test/mutation/).
// (mergeConfig would append to the base include list, so the test block is
// spread and its include replaced.)
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // A mutant that stops a call from ever answering fails its test here rather
    // than at the ordinary 30 s (every test in this list takes under 5 s).
    testTimeout: 15_000,
    // One module graph for all files: Stryker switches mutants at run time, so
    // re-importing the runtime for every file and every mutant is pure cost.
    isolate: false,
    include: [
      'test/runtime.test.ts',
      'test/codec.test.ts',
      'test/codec-limits.test.ts',
      'test/schemas.test.ts',
      'test/overload.test.ts',
      'test/filters.test.ts',
      'test/mutation/transactions-memory.mutation.ts',
      'test/transactions/edges.test.ts',
      'test/gateway/gateway.test.ts',
      'test/gateway/error-status.test.ts',
      'test/gateway/timeout-cap.test.ts',
      'test/gateway/fuzz.test.ts',
      'test/storage/dynalite-conformance.test.ts',
      'test/mutation-kills/*.test.ts',
    ],
  },
});
