import { memoryCluster } from 'granary';
import { clusterConformance } from './conformance/cluster.js';

clusterConformance('in-memory', () => ({ provider: () => memoryCluster() }));
