import type { KeyRecord } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { createMemoryRateLimiter } from '../rate-limit.js'

const key = (extra: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId: 'kRateLimits0001',
  secret: new Uint8Array(32),
  principal: 'acme',
  scopes: [],
  status: 'active',
  createdAt: new Date(0),
  ...extra,
})

// Durations in milliseconds (issue 12 item 10); the RateLimit headers stay in seconds.
describe('rate limits in milliseconds', () => {
  it('takes windowMs from the policy and rateLimits from the key, and reports the window in seconds', async () => {
    const fromPolicy = createMemoryRateLimiter({ rate: { points: 1, windowMs: 60_000 } })
    expect(await fromPolicy.consume(key())).toMatchObject({ allowed: true, limit: 1, windowMs: 60_000 })
    expect(await fromPolicy.consume(key())).toMatchObject({ allowed: false, code: 'RATE_LIMITED', windowMs: 60_000 })
    const fromKey = await fromPolicy.consume(key({ keyId: 'kRateLimits0002', rateLimits: { quota: { points: 5, periodMs: 86_400_000 } } }))
    expect(fromKey).toMatchObject({ allowed: true, limit: 1 })
  })

  it('refuses a policy written in seconds, naming the new field', () => {
    expect(() => createMemoryRateLimiter({ rate: { points: 1, windowSeconds: 60 } } as never)).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: 'invalid rate limit policy: rate.windowSeconds: `windowSeconds` was renamed `windowMs` (milliseconds)',
      }),
    )
    expect(() => createMemoryRateLimiter({ quota: { points: 1, periodSeconds: 60 } } as never)).toThrow(
      /`periodSeconds` was renamed `periodMs`/,
    )
  })

  it('fails loudly, not unlimited, on a key whose limits carry no windowMs: KEY_RECORD_INVALID naming the key and the field', async () => {
    const limiter = createMemoryRateLimiter()
    await expect(limiter.consume(key({ rateLimits: { rate: { points: 1, windowSeconds: 60 } } as never }))).rejects.toMatchObject({
      code: 'KEY_RECORD_INVALID',
      status: 403,
      message: expect.stringMatching(/rateLimits\.rate\.windowMs must be a positive number/),
    })
    await expect(limiter.consume(key({ rateLimits: { quota: { points: 0, periodMs: 1 } } as never }))).rejects.toMatchObject({
      code: 'KEY_RECORD_INVALID',
      message: expect.stringContaining('rateLimits.quota.points'),
    })
  })
})
