// What the client costs a browser bundle (issue 26 item 6): each entry point alone, bundled by
// esbuild for the browser, minified, gzipped — as test/edge-bundle.test.ts does for verify(). It
// fails when a change pulls zod's full build, a Node-only module or other weight into the client.
//
// Measured (Node 20, esbuild 0.27): before issue 26, createSignedFetch 493 KiB min / 111 KiB gzip,
// signRequest 480 / 106, presignUrl 471 / 102 (zod was ~443 KiB of each). Now createSignedFetch
// 52.5 / 20.9, signRequest 28.6 / 11.1, presignUrl 29.6 / 11.6.
//
// createSignedFetch is over the 15 KiB: it carries @noble/hashes (~4.7 KiB gzip; core's
// incremental hasher, which streamed Blob and factory bodies need off Node — WebCrypto has no
// streaming digest) and response verification's parser (~3.3 KiB gzip; `verifyResponses`).
// Both live in @sigil/core; lazy imports do not help under esbuild, which puts every core file
// reached from a lazy chunk into a shared, eagerly loaded one. Its budget guards today's size
// until core is split (then 15 KiB).
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

const KIB = 1024
const BUDGET_GZIP: Record<string, number> = {
  signRequest: 15 * KIB,
  presignUrl: 15 * KIB,
  createSignedFetch: 22 * KIB,
}

async function bundle(name: string) {
  const r = await build({
    stdin: { contents: `export { ${name} } from '@sigil/client'`, resolveDir: import.meta.dirname, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['browser', 'source'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const bytes = r.outputFiles[0]?.contents ?? new Uint8Array()
  // Modules with code in the output (the metafile's inputs also list what tree shaking dropped).
  const used = Object.entries(Object.values(r.metafile.outputs)[0]?.inputs ?? {})
  return { bytes, gzip: gzipSync(bytes).length, inputs: used.filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k) }
}

describe('browser bundle of the client', () => {
  for (const [name, budget] of Object.entries(BUDGET_GZIP)) {
    it(`${name} stays under ${budget / KIB} KiB gzipped, without zod or a Node-only module`, async () => {
      const b = await bundle(name)
      expect(b.inputs.filter((f) => /(^|\/)zod\/|(^|\/)undici\/|(^|\/)axios\/|(^|\/)got\//.test(f))).toEqual([])
      expect(new TextDecoder().decode(b.bytes)).not.toMatch(/from\s*["']node:/)
      expect(b.gzip).toBeLessThan(budget)
    })
  }

  it('signRequest and presignUrl do not carry @noble/hashes (bytes are digested with WebCrypto off Node)', async () => {
    for (const name of ['signRequest', 'presignUrl']) expect((await bundle(name)).inputs.filter((f) => f.includes('@noble'))).toEqual([])
  })
})
