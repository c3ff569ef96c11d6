/** The reminders conformance suite on TestCluster with memory storage. */
import { memoryStorage } from 'granary';
import { remindersConformance } from './suite.js';

remindersConformance('memory', async () => ({ storage: memoryStorage() }));
