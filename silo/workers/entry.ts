/**
 * The Worker wrangler.toml deploys: the sample grains. A Worker of your own grains is the
 * same three statements with your module in place of the samples.
 */
import { sampleGrains } from '../../grains/index.js';
import { granaryWorker } from './index.js';

export const { GrainObject, StreamObject, handler } = granaryWorker({ grains: sampleGrains });
export default handler;
