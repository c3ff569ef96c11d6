/** The reference: the journal conformance suite against `memoryStorage().journal`. */
import { memoryStorage } from 'granary';
import { journalConformance } from './journal-conformance.js';

journalConformance('memory', async () => ({ journal: memoryStorage().journal! }));
