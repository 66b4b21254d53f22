import { describe, expect, it } from 'vitest'
import { compileAdapter } from './adapter-options.js'
import { createVerifier } from './verifier.js'

describe('configuration errors name the bad field, never its value', () => {
  const keys = { get: () => undefined }
  it.each([
    ['windowMs', { keys, windowMs: 99_999_999 }],
    ['windowMs', { keys, windowMs: 999 }],
    ['profile', { keys, profile: 'sigv4' }],
    ['signatureLimits.maxSignatures', { keys, signatureLimits: { maxSignatures: 0 } }],
    ['nonceStore', { keys, nonceStore: { set: () => true } }],
    ['presigned.maxLifetimeMs', { keys, presigned: { maxLifetimeMs: 10 ** 12 } }],
  ])('%s', (field, options) => {
    expect(() => createVerifier(options as never)).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: expect.stringContaining(`: ${field}: `) }),
    )
  })
  it.each([
    ['window', { keys, window: 300 }, '`window` was renamed `windowMs` (milliseconds)'],
    ['limits', { keys, limits: { maxSignatures: 4 } }, '`limits` was renamed `signatureLimits`'],
    ['presigned.maxLifetime', { keys, presigned: { maxLifetime: 3600 } }, '`maxLifetime` was renamed `maxLifetimeMs` (milliseconds)'],
  ])('a renamed option is refused, naming the new one: %s', (field, options, says) => {
    expect(() => createVerifier(options as never)).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: `invalid verify options: ${field}: ${says}` }),
    )
  })
  it('windowMs counts whole seconds, the unit of created (1999 ms is 1 s)', () => {
    expect(createVerifier({ keys, windowMs: 1999 }).config.windowS).toBe(1)
    expect(createVerifier({ keys }).config.windowS).toBe(300)
  })
  it('for adapter options too', () => {
    const secretLooking = 'hunter2-hunter2-hunter2-hunter2-hunter2'
    let message = ''
    try {
      compileAdapter({ keys, exempt: [secretLooking, 7 as never] })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/^invalid adapter options: exempt/)
    expect(message).not.toContain(secretLooking)
  })
})
