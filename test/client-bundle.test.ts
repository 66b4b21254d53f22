// What the client costs a browser bundle (issue 26 item 6): each entry point alone, bundled by
// esbuild for the browser, minified, gzipped — as test/edge-bundle.test.ts does for verify(). It
// fails when a change pulls zod's full build, a Node-only module or other weight into the client.
//
// Measured (Node 20, esbuild 0.27): before issue 26, createSignedFetch 493 KiB min / 111 KiB gzip,
// signRequest 480 / 106, presignUrl 471 / 102 (zod was ~443 KiB of each). Without zod,
// createSignedFetch was still 52.9 / 21.0: @noble/hashes (core's incremental hasher, for Blob and
// factory bodies) and response verification's parser. Now the client streams those bodies through
// node:crypto on Node and digests them whole with WebCrypto elsewhere (body.ts), and response
// verification is opt-in from @sigil/client/responses: createSignedFetch 34.8 / 13.5, signRequest
// 28.9 / 11.3, presignUrl 30.0 / 11.7. Encrypted bodies (the RFC 8188 codec, ~7 KiB min / 2.8 KiB
// gzip) took createSignedFetch to 16.3 KiB gzip while imported statically; they are opt-in from
// @sigil/client/encrypted (`encryptBody: bodyEncryption()`), so the budget stays 15 KiB.
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

const KIB = 1024
const BUDGET_GZIP: Record<string, number> = {
  signRequest: 15 * KIB,
  presignUrl: 15 * KIB,
  createSignedFetch: 15 * KIB,
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

  it('no entry point carries @noble/hashes (bytes are digested with WebCrypto off Node)', async () => {
    for (const name of Object.keys(BUDGET_GZIP)) expect((await bundle(name)).inputs.filter((f) => f.includes('@noble'))).toEqual([])
  })
})
