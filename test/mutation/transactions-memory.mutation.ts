/**
 * The transaction suite on memory storage with a shorter bank run, for mutation testing only
 * (vitest.mutation.config.ts): Stryker reruns the covering tests for every mutant, and the full
 * 2,000-transfer bank run (test/transactions/memory.test.ts, in `npm test`) would dominate it.
 * The name does not end in .test.ts, so the ordinary suite does not run it twice.
 */
import { memoryStorage } from 'granary';
import { transactionSuite } from '../transactions/suite.js';

transactionSuite('memory storage (mutation run)', async () => ({ storage: memoryStorage(), close: async () => undefined }), { transfers: 200 });
