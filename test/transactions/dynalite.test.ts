/** The transaction suite on DynamoDB storage served by dynalite (its own process, so it has its own core). */
import { dynamoStorage } from 'granary';
import { startDynaliteProcess, uniqueTable } from '../support/dynamodb.js';
import { transactionSuite } from './suite.js';

transactionSuite('dynalite', async () => {
  const db = await startDynaliteProcess();
  const storage = dynamoStorage({ table: uniqueTable('granary_txn'), endpoint: db.endpoint, region: 'local' });
  await storage.ensureTable();
  return {
    storage,
    async close() {
      await storage.close();
      await db.close();
    },
  };
});
