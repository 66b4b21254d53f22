import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkContentDigest, contentDigestMatches, createDigester, type DigestAlgorithm, parseContentDigest } from './content-digest.js'

const b64 = (alg: 'sha256' | 'sha512', body: Uint8Array | string) => createHash(alg).update(body).digest('base64')

/** The long way: parse the header, digest the body with what it declares, compare. */
function longWay(header: string, body: Uint8Array | string): 'ok' | string {
  try {
    const declared = parseContentDigest(header)
    const d = createDigester({ algorithms: [...declared.keys()] as DigestAlgorithm[] })
    d.take(body)
    checkContentDigest(declared, d.result().digests)
    return 'ok'
  } catch (e) {
    return (e as { code?: string }).code ?? String(e)
  }
}

describe('contentDigestMatches', () => {
  it('is true only where the long way accepts, and then only for one canonical sha-256 or sha-512 member', () => {
    const body = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 50 }))
    fc.assert(
      fc.property(body, body, fc.nat(5), (a, b, form) => {
        const s256 = b64('sha256', a)
        const header = [
          `sha-256=:${s256}:`,
          `sha-512=:${b64('sha512', a)}:`,
          `sha-256=:${s256.replace(/=+$/, '')}:`, // unpadded: accepted the long way only
          `sha-256=:${s256}:, sha-512=:${b64('sha512', a)}:`,
          `sha-256=:${b64('sha256', b)}:`, // another body's digest
          `sha-256=:${s256}:;p=1`,
        ][form] as string
        const fast = contentDigestMatches(header, a)
        const slow = longWay(header, a)
        if (fast) expect(slow).toBe('ok')
        expect(fast).toBe(form <= 1 || (form === 4 && b64('sha256', b) === s256) ? true : undefined)
      }),
      { numRuns: 500 },
    )
  })

  it('refuses other lengths, algorithms and trailing text', () => {
    const body = new TextEncoder().encode('{"hello": "world"}')
    const good = `sha-256=:${b64('sha256', body)}:`
    expect(contentDigestMatches(good, body)).toBe(true)
    expect(contentDigestMatches(`${good} `, body)).toBeUndefined()
    expect(contentDigestMatches(` ${good}`, body)).toBeUndefined()
    expect(contentDigestMatches(good.replace('sha-256', 'sha-384'), body)).toBeUndefined()
    expect(contentDigestMatches(`${good.slice(0, -2)}A:`, body)).toBeUndefined()
    expect(contentDigestMatches('sha-256=::', body)).toBeUndefined()
    expect(contentDigestMatches('', body)).toBeUndefined()
  })
})
