/**
 * The transaction suite on DynamoDB storage served by DynamoDB Local (AWS's own emulator).
 * The bank run is shorter here (the 2,000-transfer runs are on dynalite and across processes):
 * this file checks that AWS's own implementation of the conditional writes behaves the same.
 */
import { startDynamoDBLocal, storageOn } from '../support/dynamodb.js';
import { transactionSuite } from './suite.js';

transactionSuite('DynamoDB Local', async () => storageOn(await startDynamoDBLocal(), 'granary_txn'), { transfers: 600, crashesAt: [0.3, 0.6] });
