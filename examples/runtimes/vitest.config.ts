import { defineConfig } from 'vitest/config'

// The runtime matrix (pnpm test:runtimes, run by .ci/run after pnpm build): each runtime serves
// the built packages, as an application installed from the registry would.
export default defineConfig({
  test: { include: ['matrix/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 480_000, pool: 'forks', fileParallelism: false },
})
