/** The transaction suite on DynamoDB storage served by DynamoDB Local (AWS's own emulator). */
import { dynamoStorage } from 'granary';
import { startDynamoDBLocal, uniqueTable } from '../support/dynamodb.js';
import { transactionSuite } from './suite.js';

transactionSuite('DynamoDB Local', async () => {
  const db = await startDynamoDBLocal();
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
