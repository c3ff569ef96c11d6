/** The transaction suite on DynamoDB storage served by dynalite (its own process, so it has its own core). */
import { startDynaliteProcess, storageOn } from '../support/dynamodb.js';
import { transactionSuite } from './suite.js';

transactionSuite('dynalite', async () => storageOn(await startDynaliteProcess(), 'granary_txn'));
