import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { formatToken, parseToken, tokenParts } from './token.js'

// Known answers computed outside TypeScript (Python's zlib.crc32), SPEC §4; the spec's example
// token is the first case, so the spec and the code cannot drift apart.
interface TokenCase {
  name: string
  token: string
  prefix: string
  keyId: string
  secretHex: string
  secret: string
  checksum: string
  test: boolean
}
const vectors = JSON.parse(readFileSync(new URL('../../../test/vectors/sigil-token-v1.json', import.meta.url), 'utf8')) as {
  cases: TokenCase[]
}
const spec = readFileSync(new URL('../../../docs/spec.md', import.meta.url), 'utf8')

describe('the token grammar (SPEC §4)', () => {
  it.each(vectors.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const secret = Uint8Array.from(Buffer.from(c.secretHex, 'hex'))
    expect(formatToken(c.keyId, secret, { test: c.test })).toBe(c.token)
    expect(tokenParts(c.token)).toEqual({ prefix: c.prefix, keyId: c.keyId, secret: c.secret, checksum: c.checksum, test: c.test })
    expect(parseToken(c.token)).toEqual({ keyId: c.keyId, secret, test: c.test })
  })

  it('is what the spec shows', () => {
    const first = vectors.cases[0] as TokenCase
    expect(spec).toContain(first.token)
    expect(spec).toContain(`checksum \`${first.checksum}\``)
  })

  it('refuses a token whose checksum, prefix or key id is wrong, without echoing it', () => {
    const t = (vectors.cases[0] as TokenCase).token
    for (const bad of [`${t.slice(0, -1)}X`, t.replace('sigil_sk_', 'sigil_xk_'), t.replace('AbCdEf1234567890xyzQrs', 'AbCd')]) {
      let message = ''
      try {
        tokenParts(bad)
      } catch (e) {
        message = (e as Error).message
      }
      expect(message).toMatch(/token/)
      expect(message).not.toContain('CFGa5C')
    }
  })
})
