// The fresh-clone test runs alone (pnpm test:fresh-clone, in .ci/run): it clones the repository,
// installs and builds it, which takes minutes, so `pnpm test` does not include it.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/fresh-clone/**/*.test.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
