/** The transaction suite, run against each storage provider (memory, dynalite, DynamoDB Local). */
import { describe } from 'vitest';
import { atomicity } from './atomicity.js';
import { bankInvariant, type BankOptions } from './bank.js';
import { durability } from './durability.js';
import { inDoubtCommits } from './in-doubt.js';
import { isolation } from './isolation.js';
import { options } from './options.js';
import { setupSuite, type StorageFactory } from './support.js';
import { twinReads } from './twins.js';
import { recordRetention } from './retention.js';
import { writeCounts } from './writes.js';

export function transactionSuite(name: string, factory: StorageFactory, bank: BankOptions = { transfers: 2_000 }): void {
  describe(`transactions on ${name}`, () => {
    const s = setupSuite(name, factory);
    atomicity(s);
    isolation(s);
    durability(s);
    inDoubtCommits(s);
    options(s);
    writeCounts(s);
    twinReads(s);
    recordRetention(s);
    bankInvariant(s, bank);
  });
}
