/** The journaled-grain behaviour suite on TestCluster over memory storage. */
import { afterAll, beforeAll } from 'vitest';
import { TestCluster } from 'granary';
import { sampleGrains } from '../../grains/index.js';
import { describeJournalBehaviour } from './behaviour-suite.js';
import { journalTestGrains } from './grains.js';

let cluster: TestCluster;
beforeAll(async () => { cluster = await TestCluster.start({ silos: 2, grains: [...sampleGrains, ...journalTestGrains] }); });
afterAll(async () => { await cluster?.stop(); });

describeJournalBehaviour('TestCluster on memory', () => cluster.client);
