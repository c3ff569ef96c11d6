/** The transaction suite on DynamoDB storage served by dynalite (in-process, LevelDB on disk). */
import { dynamoStorage } from 'granary';
import { startDynalite, uniqueTable } from '../support/dynamodb.js';
import { transactionSuite } from './suite.js';

transactionSuite('dynalite', async () => {
  const db = await startDynalite();
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
