// Every limit is configurable, exact at its boundary (N passes, N+1 is refused), and refused
// before the oversized input is parsed or read.
import { DEFAULT_SIGNATURE_LIMITS, parseSignatures } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { receive, type SignSpec, signSpec, type Wire } from './harness.js'
import { deliverIncoming, outcomeOf, toIncoming, verifierFor } from './transports.js'

const GET = { target: '/v1/orders?b=2&a=1' }
const header = (w: Wire, name: string) => w.headers.find(([k]) => k.toLowerCase() === name)?.[1] as string

/** A raw-signed GET whose Signature-Input is exactly `bytes` long (padded with a `pad` parameter). */
async function signedWithInputLength(bytes: number): Promise<Wire> {
  const base = header(await signSpec(GET, { signer: 'raw', params: { nonce: 'n'.repeat(22), pad: '' } }), 'signature-input')
  return signSpec(GET, { signer: 'raw', params: { nonce: 'n'.repeat(22), pad: 'x'.repeat(bytes - base.length) } })
}

describe('limits', () => {
  it('defaults are documented values', () => {
    expect(DEFAULT_SIGNATURE_LIMITS).toEqual({ maxHeaderBytes: 8192, maxSignatures: 8, maxComponents: 32, maxParamLength: 256 })
  })

  for (const max of [DEFAULT_SIGNATURE_LIMITS.maxHeaderBytes, 1024]) {
    it(`maxHeaderBytes ${max}: a Signature-Input of exactly ${max} bytes verifies, one more byte is SIGNATURE_MALFORMED`, async () => {
      const limits = { maxHeaderBytes: max }
      const at = await signedWithInputLength(max)
      expect(header(at, 'signature-input')).toHaveLength(max)
      expect(await deliverIncoming(at, verifierFor({ request: GET, verifier: { signatureLimits: limits } }))).toBe('accepted')
      const over = await signedWithInputLength(max + 1)
      expect(await deliverIncoming(over, verifierFor({ request: GET, verifier: { signatureLimits: limits } }))).toBe('SIGNATURE_MALFORMED')
    })
  }

  it('maxHeaderBytes is checked before parsing: a 16 MiB Signature header is refused in constant time', () => {
    const huge = `sig1=:${'A'.repeat(16 * 1024 * 1024)}:`
    const t0 = performance.now()
    expect(() => parseSignatures('sig1=("@method");created=1', huge)).toThrow(expect.objectContaining({ code: 'SIGNATURE_MALFORMED' }))
    expect(() => parseSignatures(huge, 'sig1=:AAAA:')).toThrow(expect.objectContaining({ code: 'SIGNATURE_MALFORMED' }))
    // Parsing 16 MiB would take far longer; the length check alone is microseconds.
    expect(performance.now() - t0).toBeLessThan(50)
  })

  for (const max of [DEFAULT_SIGNATURE_LIMITS.maxSignatures, 3]) {
    it(`maxSignatures ${max}: ours plus ${max - 1} foreign signatures verify, one more is SIGNATURE_MALFORMED`, async () => {
      const foreign = (n: number): [string, string][] => [
        ['Signature-Input', Array.from({ length: n }, (_, i) => `f${i}=("@method");created=1;keyid="x";tag="other"`).join(', ')],
        ['Signature', Array.from({ length: n }, (_, i) => `f${i}=:AAAA:`).join(', ')],
      ]
      const v = () => verifierFor({ request: GET, verifier: { signatureLimits: { maxSignatures: max } } })
      expect(await deliverIncoming(await receive(await signSpec(GET), { add: foreign(max - 1) }), v())).toBe('accepted')
      expect(await deliverIncoming(await receive(await signSpec(GET), { add: foreign(max) }), v())).toBe('SIGNATURE_MALFORMED')
    })
  }

  for (const max of [DEFAULT_SIGNATURE_LIMITS.maxComponents, 6]) {
    it(`maxComponents ${max}: ${max} covered components verify, ${max + 1} are SIGNATURE_MALFORMED`, async () => {
      const extra = (n: number) => Array.from({ length: n - 4 }, (_, i) => `x-h${i}`)
      const request = (n: number) => ({ ...GET, headers: extra(n).map((h) => [h, 'v'] as [string, string]) })
      const sign = (n: number): SignSpec => ({ signer: 'raw', components: ['@method', '@authority', '@path', '@query', ...extra(n)] })
      const v = () => verifierFor({ request: GET, verifier: { signatureLimits: { maxComponents: max } } })
      expect(await deliverIncoming(await signSpec(request(max), sign(max)), v())).toBe('accepted')
      expect(await deliverIncoming(await signSpec(request(max + 1), sign(max + 1)), v())).toBe('SIGNATURE_MALFORMED')
    })
  }

  for (const max of [DEFAULT_SIGNATURE_LIMITS.maxParamLength, 32]) {
    it(`maxParamLength ${max}: a nonce of ${max} characters verifies, ${max + 1} is SIGNATURE_MALFORMED`, async () => {
      const v = () => verifierFor({ request: GET, verifier: { signatureLimits: { maxParamLength: max } } })
      expect(await deliverIncoming(await signSpec(GET, { signer: 'raw', params: { nonce: 'n'.repeat(max) } }), v())).toBe('accepted')
      expect(await deliverIncoming(await signSpec(GET, { signer: 'raw', params: { nonce: 'n'.repeat(max + 1) } }), v())).toBe(
        'SIGNATURE_MALFORMED',
      )
    })
  }

  describe('maxBodyBytes', () => {
    const post = (n: number) => ({
      method: 'POST',
      target: '/upload',
      headers: [['Content-Type', 'text/plain']] as [string, string][],
      body: 'b'.repeat(n),
    })
    const limit = 4096

    it('a body of exactly maxBodyBytes verifies, one more byte is BODY_TOO_LARGE', async () => {
      const v = () => verifierFor({ request: GET, verifier: { maxBodyBytes: limit } })
      expect(await deliverIncoming(await signSpec(post(limit)), v())).toBe('accepted')
      expect(await deliverIncoming(await signSpec(post(limit + 1)), v())).toBe('BODY_TOO_LARGE')
    })

    it('Content-Length over the limit is refused before the body is touched', async () => {
      const verifier = verifierFor({ request: GET, verifier: { maxBodyBytes: limit } })
      const incoming = toIncoming(await signSpec(post(limit + 1)), verifier)
      let opened = 0
      const code = await outcomeOf(
        verifier.verifyIncoming({
          ...incoming,
          body: () => {
            opened++
            return null
          },
        }),
      )
      expect(code).toBe('BODY_TOO_LARGE')
      expect(opened).toBe(0)
    })

    it('without Content-Length (chunked, or a lying length) the stream is cut off at the limit, never read to its end', async () => {
      const verifier = verifierFor({ request: GET, verifier: { maxBodyBytes: limit } })
      for (const framing of [{ framing: 'chunked' as const }, { set: { 'Content-Length': '10' } }]) {
        const incoming = toIncoming(await receive(await signSpec(post(10)), framing), verifier)
        let pulled = 0
        const endless = async function* () {
          for (;;) {
            pulled += 1024
            yield new Uint8Array(1024)
          }
        }
        const code = await outcomeOf(verifier.verifyIncoming({ ...incoming, body: () => endless() }))
        expect(code).toBe('BODY_TOO_LARGE')
        expect(pulled).toBeLessThanOrEqual(limit + 1024)
      }
    })
  })
})
