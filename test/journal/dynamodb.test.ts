/**
 * Journaled grains on DynamoDB: the behaviour suite and the cluster suite (twin activations,
 * silo kills, a crash before a snapshot, upcasting, projections) on dynalite and on DynamoDB
 * Local, with TestCluster's silos sharing one table.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { TestCluster, dynamoStorage, type DynamoStorage } from 'granary';
import { sampleGrains } from '../../grains/index.js';
import { startDynalite, startDynamoDBLocal, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { describeJournalBehaviour } from './behaviour-suite.js';
import { journalClusterSuite } from './cluster-suite.js';
import { journalTestGrains } from './grains.js';

for (const [name, startDb] of [['dynalite', startDynalite], ['DynamoDB Local', startDynamoDBLocal]] as const) {
  describe(name, () => {
    let db: DynamoEndpoint;
    const opened: DynamoStorage[] = [];
    const open = async () => {
      const s = dynamoStorage({ table: uniqueTable(), endpoint: db.endpoint, region: 'local' });
      opened.push(s);
      await s.ensureTable();
      return s;
    };
    let cluster: TestCluster | undefined;
    beforeAll(async () => {
      db = await startDb();
      cluster = await TestCluster.start({ silos: 2, grains: [...sampleGrains, ...journalTestGrains], storage: await open() });
    });
    afterAll(async () => {
      await cluster?.stop();
      await Promise.all(opened.map((s) => s.close()));
      await db?.close();
    });

    describeJournalBehaviour(`TestCluster on ${name}`, () => cluster!.client);
    journalClusterSuite(name, async () => ({ storage: await open() }));
  });
}
