import { describe, expect, it } from 'vitest'
import { generateMasterKey, parseMasterKey } from './master-key.js'
import { openSecret, sealSecret } from './secret-box.js'

describe('openSecret', () => {
  it('returns the secret in its own array, not a view into a shared Buffer pool slab a cache would keep alive', () => {
    const ring = parseMasterKey(generateMasterKey())
    const secret = new Uint8Array(32).map((_, i) => i)
    const opened = Array.from({ length: 3 }, (_, i) => {
      // Other small pooled Buffers in between, as request handling allocates them.
      Buffer.from(`some header value ${i}`)
      return openSecret(ring, 'k1', sealSecret(ring, 'k1', secret))
    })
    for (const s of opened) {
      expect([...s]).toEqual([...secret])
      expect(s.byteOffset).toBe(0)
      expect(s.buffer.byteLength).toBe(32)
    }
  })
})
