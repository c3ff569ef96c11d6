import { Instrumenter } from '@stryker-mutator/instrumenter';
import fs from 'node:fs';
const log = { debug(){}, info(){}, warn(){}, error(){}, trace(){}, isDebugEnabled:()=>false };
const specs = JSON.parse(process.argv[2]);
const inst = new Instrumenter(log);
const files = specs.map(([f, ranges]) => ({ name: f, content: fs.readFileSync(f,'utf8'), mutate: ranges === true ? true : ranges.map(([a,b]) => ({ start: { line: a-1, column: 0 }, end: { line: b-1, column: Number.MAX_SAFE_INTEGER } })) }));
const res = await inst.instrument(files, { ignorers: [], excludedMutations: JSON.parse(process.argv[3] ?? "[]"), noHeader: false, plugins: null });
const by = {}, per = {};
for (const m of res.mutants) { by[m.mutatorName]=(by[m.mutatorName]||0)+1; per[m.fileName]=(per[m.fileName]||0)+1; }
console.log(res.mutants.length, by, per);
