/**
 * What `import … from 'granary'` gives inside a Worker bundle: the runtime API grain code
 * uses (Grain, RequestContext, errors, TransactionalState, …) and the Workers face. The
 * silo's Node-only parts (Silo, natsCluster, the Node gateway) do not exist on Workers.
 */
export * from '../../runtime/index.js';
export * from './index.js';
