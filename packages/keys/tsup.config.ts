import { defineConfig, type Options } from 'tsup'
import { packageConfig } from '../../tsup.shared'

// shims: the SQLite driver seam resolves its optional peers with createRequire(import.meta.url),
// which the CommonJS build needs shimmed (from __filename).
export default defineConfig({
  ...(packageConfig(['src/index.ts', 'src/postgres.ts', 'src/sqlite.ts', 'src/testing.ts']) as Options),
  shims: true,
})
