// Timing tests run alone (pnpm test:timing): one fork, no parallel files, so the measurements
// are not disturbed by other tests on the same cores.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/timing/**/*.test.ts'],
    testTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
