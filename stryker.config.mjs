// Mutation testing (`npm run test:mutation`): not part of `npm test` or CI.
// Scope: the files behind documented promises (turns, reentrancy, deadlock,
// activation, overload, codec limits, transactions, schemas, gateway errors,
// DynamoDB storage), tested by the fast suites in vitest.mutation.config.ts.
// Versions: Stryker 9.6.1 or later reads per-test coverage from Vitest 4.1 (earlier
// versions get none and run every test for every mutant); Stryker 10 needs Node 22.
// Scores per folder and how to read them: docs/testing.md "Mutation testing".
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  // Line ranges keep a run within minutes: the code behind each promise, not
  // every helper around it.
  mutate: [
    'runtime/activation.ts:194-351', // receive/start/finish/pump: turns, reentrancy, deadlock
    'runtime/activation.ts:428-481', // state writes, ETag conflicts, deactivation requests
    'runtime/catalog.ts:127-227', // deliver/refuse/shedIdle/start: activation, overload
    'runtime/codec.ts:37-63', // encode/decode entry points
    'runtime/codec.ts:81-109', // encode: depth and cycles
    'runtime/codec.ts:168-246', // decode: limits and tag checks
    'runtime/features/transactions/coordinator.ts',
    'runtime/features/schemas/feature.ts',
    'silo/gateway/http-errors.ts',
    'silo/gateway/call-request.ts',
    'silo/dynamodb/storage.ts:83-250', // read, conditional commit, ETags
  ],
  // Keep the sandbox copy small: build output and local state are not inputs.
  ignorePatterns: ['dist', '.granary', '.wrangler', '.bench-check', 'coverage', 'reports', 'bench'],
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  // Two cores shared with other work: at most two test processes.
  concurrency: 2,
  // A mutant that makes a call hang is a timeout (killed); the machine is
  // loaded, so allow well over the normal run time before calling it one.
  timeoutMS: 60_000,
  timeoutFactor: 3,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
