import { createHash, createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { contentDigest, createDigester, type DigestAlgorithm, digestBytes } from './content-digest.js'
import { hmacBase64For, hmacSha256, webHmacSha256 } from './hmac.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bytes = (n: number, v: number) => new Uint8Array(n).fill(v)
const utf8 = (s: string) => new TextEncoder().encode(s)

// RFC 4231 §4: the HMAC-SHA-256 cases whose data is text (the interface MACs strings as UTF-8).
const RFC4231: [string, Uint8Array, string, string][] = [
  ['4.2', bytes(20, 0x0b), 'Hi There', 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
  ['4.3', utf8('Jefe'), 'what do ya want for nothing?', '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
  [
    '4.7 (key longer than a block)',
    bytes(131, 0xaa),
    'Test Using Larger Than Block-Size Key - Hash Key First',
    '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  ],
  [
    '4.8 (key and data longer than a block)',
    bytes(131, 0xaa),
    'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
    '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
  ],
]

describe('hmacSha256', () => {
  it.each(RFC4231)('RFC 4231 test case %s', async (_, key, data, mac) => {
    expect(hex((await hmacSha256.sign(key, data)) as Uint8Array)).toBe(mac)
    expect(hex(await webHmacSha256.sign(key, data))).toBe(mac)
    expect(Buffer.from(hmacBase64For(undefined)?.(key, data) ?? '', 'base64').toString('hex')).toBe(mac)
    expect(await hmacSha256.verify(key, data, Buffer.from(mac, 'hex'))).toBe(true)
  })

  it('equals createHmac for any secret and text, across the scratch sizes, and verify refuses any other MAC', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 600 }),
      fc.string({ unit: 'binary', maxLength: 600 }),
      fc.string({ unit: 'grapheme', minLength: 1500, maxLength: 3000 }),
      fc.nat(40_000).map((n) => 'x'.repeat(n)),
    )
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ minLength: 32, maxLength: 64 }),
        text,
        fc.nat(31),
        (a, b, data, at) => {
          // Two secrets in turn: the padded keys of one never serve the other.
          for (const secret of [a, b, a]) {
            const want = createHmac('sha256', secret).update(data).digest()
            const got = hmacSha256.sign(secret, data) as Uint8Array
            expect(hex(got)).toBe(want.toString('hex'))
            expect(hmacBase64For(hmacSha256)?.(secret, data)).toBe(want.toString('base64'))
            expect(hmacSha256.verify(secret, data, want)).toBe(true)
            const wrong = new Uint8Array(want)
            wrong[at] = (wrong[at] as number) ^ 1
            expect(hmacSha256.verify(secret, data, wrong)).toBe(false)
            expect(hmacSha256.verify(secret, data, want.subarray(0, 31))).toBe(false)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('signs base64 directly only for the platform HMAC', () => {
    expect(hmacBase64For(webHmacSha256)).toBeUndefined()
    expect(hmacBase64For({ sign: hmacSha256.sign, verify: hmacSha256.verify })).toBeUndefined()
  })
})

describe('digests', () => {
  const algs: DigestAlgorithm[] = ['sha-256', 'sha-512']
  const node = (alg: DigestAlgorithm, parts: (Uint8Array | string)[]) => {
    const h = createHash(alg === 'sha-256' ? 'sha256' : 'sha512')
    for (const p of parts) h.update(p)
    return h.digest()
  }

  it('contentDigest and digestBytes equal node:crypto for bytes and text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.string({ unit: 'binary', maxLength: 300 })), (body) => {
        for (const alg of algs) {
          const want = node(alg, [body])
          expect(hex(digestBytes(alg, body))).toBe(want.toString('hex'))
          expect(contentDigest(body, alg)).toBe(`${alg}=:${want.toString('base64')}:`)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('a digester gives the digest of everything it took, in one chunk, none or many', () => {
    const chunk = fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.string({ maxLength: 50 }))
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 5 }), fc.subarray(algs, { minLength: 1 }), (parts, chosen) => {
        const seen: Uint8Array[] = []
        const d = createDigester({ algorithms: chosen, onChunk: (c) => seen.push(c) })
        for (const p of parts) d.take(p)
        const { bytes: n, digests } = d.result()
        const all = parts.map((p) => (typeof p === 'string' ? utf8(p) : p))
        expect(n).toBe(all.reduce((k, p) => k + p.byteLength, 0))
        expect([...digests.keys()]).toEqual(chosen)
        for (const alg of chosen) expect(hex(digests.get(alg) as Uint8Array)).toBe(node(alg, all).toString('hex'))
        expect(seen.map(hex)).toEqual(all.map(hex))
      }),
      { numRuns: 300 },
    )
  })

  it('a digester with no algorithm only counts, and stops at maxBytes', () => {
    const d = createDigester({ algorithms: [], maxBytes: 4 })
    d.take(new Uint8Array(3))
    expect(() => d.take('ab')).toThrow(expect.objectContaining({ code: 'BODY_TOO_LARGE' }))
    expect(createDigester({ algorithms: [] }).result().digests.size).toBe(0)
  })
})
