import { describe, expect, it } from 'vitest'
import { signRequest } from './sign-request.js'

// Durations in options are milliseconds, named *Ms (issue 12 item 10); the wire's expires stays
// whole seconds.
describe('expiresInMs', () => {
  const creds = { keyId: 'kExpiresInMs001', secret: new Uint8Array(32).fill(7) }
  const now = () => 1_700_000_000_400
  const params = async (extra: Record<string, unknown>) => {
    const signed = await signRequest(new Request('https://api.example.com/v1/x'), { ...creds, now, ...extra })
    return signed.headers.get('signature-input') as string
  }

  it('defaults to 300 000 ms, counts whole seconds, and 0 omits expires', async () => {
    expect(await params({})).toContain(';created=1700000000;expires=1700000300;')
    expect(await params({ expiresInMs: 1999 })).toContain(';created=1700000000;expires=1700000001;')
    expect(await params({ expiresInMs: 0 })).not.toContain('expires=')
  })

  it.each([
    ['under a second', { expiresInMs: 999 }, 'invalid signer options: expiresInMs: '],
    ['over a day', { expiresInMs: 86_400_001 }, 'invalid signer options: expiresInMs: '],
    [
      'the old expiresIn (seconds)',
      { expiresIn: 300 },
      'invalid signer options: expiresIn: `expiresIn` was renamed `expiresInMs` (milliseconds)',
    ],
  ])('refuses %s, naming the option', async (_n, extra, says) => {
    await expect(params(extra)).rejects.toMatchObject({ name: 'ConfigurationError', message: expect.stringContaining(says) })
  })
})
