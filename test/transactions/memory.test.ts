import { memoryStorage } from 'granary';
import { transactionSuite } from './suite.js';

transactionSuite('memory storage', async () => ({ storage: memoryStorage(), close: async () => undefined }));
