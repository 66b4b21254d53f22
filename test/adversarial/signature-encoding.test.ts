// A MAC has exactly one text on the wire: the padded base64 of RFC 4648 §4 with no bits left over
// in its last character. Any other text for the same bytes (pad bits set, "=" dropped) is
// SIGNATURE_MALFORMED, and any change to a character that carries MAC bits is SIGNATURE_INVALID.
// Each signed request is fresh (its own nonce), so the last character takes every value class.
import { describe, expect, it } from 'vitest'
import { signSpec, type Wire } from './harness.js'
import { deliverIncoming, verifierFor } from './transports.js'

const GET = { target: '/v1/orders?b=2&a=1' }
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function withSignatureHeader(w: Wire, value: string): Wire {
  return { ...w, headers: w.headers.map(([k, v]) => [k, k.toLowerCase() === 'signature' ? value : v] as [string, string]) }
}

/** The Signature header's label and base64 text. */
function parts(w: Wire): { label: string; b64: string } {
  const value = w.headers.find(([k]) => k.toLowerCase() === 'signature')?.[1] as string
  const m = /^([a-z0-9_.*-]+)=:([A-Za-z0-9+/]+=*):$/.exec(value)
  if (!m) throw new Error('unexpected Signature shape')
  return { label: m[1] as string, b64: m[2] as string }
}

describe('the Signature member has one text', () => {
  it('the same MAC with pad bits set, or without its "=", is SIGNATURE_MALFORMED; the canonical text verifies', async () => {
    const seen = new Set<number>()
    for (let n = 0; n < 24; n++) {
      const w = await signSpec(GET)
      const { label, b64 } = parts(w)
      expect(b64).toMatch(/=$/) // 32 bytes: 43 characters and one "="
      const last = b64.length - 2
      const value = B64.indexOf(b64[last] as string)
      expect(value & 3).toBe(0) // canonical: the 2 bits past the MAC are zero
      seen.add(value >> 2)
      const v = verifierFor({ request: GET })
      expect(await deliverIncoming(w, v)).toBe('accepted')
      for (const pad of [1, 2, 3]) {
        const other = b64.slice(0, last) + B64[value | pad] + b64.slice(last + 1)
        expect(await deliverIncoming(withSignatureHeader(w, `${label}=:${other}:`), verifierFor({ request: GET }))).toBe(
          'SIGNATURE_MALFORMED',
        )
      }
      expect(await deliverIncoming(withSignatureHeader(w, `${label}=:${b64.slice(0, -1)}:`), verifierFor({ request: GET }))).toBe(
        'SIGNATURE_MALFORMED',
      )
    }
    expect(seen.size).toBeGreaterThan(4)
  })

  it('a change to any character that carries MAC bits is SIGNATURE_INVALID', async () => {
    const w = await signSpec(GET)
    const { label, b64 } = parts(w)
    for (let at = 0; at < b64.length - 1; at++) {
      const c = B64.indexOf(b64[at] as string)
      // Flip the highest bit of the character: a MAC bit in every position, the last included.
      const other = b64.slice(0, at) + B64[c ^ 32] + b64.slice(at + 1)
      expect(await deliverIncoming(withSignatureHeader(w, `${label}=:${other}:`), verifierFor({ request: GET }))).toBe('SIGNATURE_INVALID')
    }
  })
})
