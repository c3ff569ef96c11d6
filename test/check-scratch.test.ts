import { it, expect } from 'vitest';
import { Grain, Silo } from 'granary';
it('scratch', async () => {
  const other = (await import(/* @vite-ignore */ '../runtime/grain.ts?copy=2')) as typeof import('../runtime/grain.js');
  console.log(other.Grain === Grain);
  class Foreign extends other.Grain { async hi() { return 1; } }
  await expect(Silo.start({ grains: [Foreign as never] })).rejects.toThrow(/zzz/);
});
