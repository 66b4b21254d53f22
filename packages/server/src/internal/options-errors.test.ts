import { describe, expect, it } from 'vitest'
import { compileAdapter } from './adapter-options.js'
import { createVerifier } from './verifier.js'

describe('configuration errors name the bad field, never its value', () => {
  const keys = { get: () => undefined }
  it.each([
    ['window', { keys, window: 99_999 }],
    ['profile', { keys, profile: 'sigv4' }],
    ['limits.maxSignatures', { keys, limits: { maxSignatures: 0 } }],
    ['nonceStore', { keys, nonceStore: { set: () => true } }],
    ['presigned.maxLifetime', { keys, presigned: { maxLifetime: 10 ** 9 } }],
  ])('%s', (field, options) => {
    expect(() => createVerifier(options as never)).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: expect.stringContaining(`: ${field}: `) }),
    )
  })
  it('for adapter options too', () => {
    const secretLooking = 'hunter2-hunter2-hunter2-hunter2-hunter2'
    let message = ''
    try {
      compileAdapter({ keys, publicAuthority: '', exempt: [secretLooking, 7 as never] })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/^invalid adapter options: (publicAuthority|exempt)/)
    expect(message).not.toContain(secretLooking)
  })
})
