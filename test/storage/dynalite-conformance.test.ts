/** The conformance suite against dynamoStorage on dynalite (in-process, LevelDB on disk). */
import { dynamoStorage } from 'granary';
import { startDynalite, uniqueTable } from '../support/dynamodb.js';
import { storageConformance } from './conformance.js';

storageConformance('dynamodb on dynalite', async () => {
  const db = await startDynalite();
  const storage = dynamoStorage({ table: uniqueTable(), endpoint: db.endpoint, region: 'local' });
  await storage.ensureTable();
  return {
    storage,
    async close() {
      await storage.close();
      await db.close();
    },
  };
});
