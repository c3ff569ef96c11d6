/**
 * `node --import ./test/packaging/record-loads.mjs …` appends every URL the ES module loader
 * resolves to the file named by GRANARY_LOAD_RECORD, one a line: the ESM half of "which
 * modules did this import load" (CommonJS modules show in `require.cache`).
 */
import { register } from 'node:module';

register('./record-loads-hooks.mjs', import.meta.url, { data: { file: process.env.GRANARY_LOAD_RECORD } });
