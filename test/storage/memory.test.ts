/** The reference: the conformance suite against `memoryStorage()`. */
import { memoryStorage } from 'granary';
import { storageConformance } from './conformance.js';

storageConformance('memory', async () => ({ storage: memoryStorage() }));
