import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['granary-source'] },
  ssr: { resolve: { conditions: ['granary-source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
