// What `verify()` costs an edge bundle (Workers, Next.js middleware): esbuild, minified, gzip.
// The budget is a size, not a time: it fails when a change pulls a Node-only or heavy module
// into the main entry (rate-limiter-flexible, zod's full build, node: builtins).
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

/** Gzipped bytes of `verify`, `createVerifier` and `problemResponse` from `@sigil/server`. Measured: ~29 KB. */
const EDGE_BUDGET_GZIP = 40 * 1024

describe('edge bundle of verify()', () => {
  it(`stays under ${EDGE_BUDGET_GZIP / 1024} KiB gzipped and pulls in no Node-only module`, async () => {
    const r = await build({
      stdin: {
        contents: "export { createVerifier, problemResponse, verify } from '@sigil/server'",
        resolveDir: import.meta.dirname,
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['worker', 'browser', 'source'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    })
    const bytes = r.outputFiles[0]?.contents ?? new Uint8Array()
    const inputs = Object.keys(r.metafile.inputs)
    expect(inputs.filter((f) => /rate-limiter-flexible|zod\/v4\/classic|ioredis|(^|\/)pg\//.test(f))).toEqual([])
    expect(new TextDecoder().decode(bytes)).not.toMatch(/from\s*["']node:/)
    expect(gzipSync(bytes).length).toBeLessThan(EDGE_BUDGET_GZIP)
  })
})
