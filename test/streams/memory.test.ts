/** The streams suite on TestCluster (memory provider, fake clock), and the provider conformance suite on memory. */
import { memoryStreams, TestCluster } from 'granary';
import { streamProviderConformance } from './provider-conformance.js';
import { STREAM_GRAINS, streamsSuite } from './suite.js';

streamProviderConformance('memory', async ({ retention }) => {
  const provider = memoryStreams({ retention });
  return { provider, close: () => provider.close() };
});

streamsSuite('TestCluster (memory)', async () => {
  const cluster = await TestCluster.start({ grains: STREAM_GRAINS, silos: 3 });
  return {
    cluster,
    client: cluster.client,
    settle: () => cluster.settle(),
    advance: (ms) => cluster.advanceTime(ms),
    close: () => cluster.stop(),
  };
});
