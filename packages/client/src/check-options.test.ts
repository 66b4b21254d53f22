// Option checks without zod (issue 26 item 6): the messages are the ones zod gave (captured from
// the zod schemas before they were replaced), and unknown keys are refused with the closest name.

import axios from 'axios'
import { describe, expect, it } from 'vitest'
import { sigilAxios } from './axios.js'
import { sigilGot } from './got.js'
import { presignUrl } from './presign-url.js'
import { signRequest } from './sign-request.js'
import { createSignedFetch } from './signed-fetch.js'
import { createSigningInterceptor } from './undici.js'

const creds = { keyId: 'kBattery00001', secret: new Uint8Array(32).fill(7) }

const CASES: [string, Record<string, unknown>, string][] = [
  ['sign', { expiresInMs: 999 }, 'invalid signer options: expiresInMs: is 0 (no expires) or at least 1000: the wire counts whole seconds'],
  ['sign', { expiresInMs: 86400001 }, 'invalid signer options: expiresInMs: Too big: expected number to be <=86400000'],
  ['sign', { expiresInMs: 1500.5 }, 'invalid signer options: expiresInMs: Invalid input: expected int, received number'],
  ['sign', { expiresInMs: '300' }, 'invalid signer options: expiresInMs: Invalid input: expected number, received string'],
  ['sign', { expiresInMs: -1 }, 'invalid signer options: expiresInMs: Too small: expected number to be >=0'],
  ['sign', { expiresInMs: Number.NaN }, 'invalid signer options: expiresInMs: Invalid input: expected number, received NaN'],
  ['sign', { expiresIn: 300 }, 'invalid signer options: expiresIn: `expiresIn` was renamed `expiresInMs` (milliseconds)'],
  ['sign', { tag: '' }, 'invalid signer options: tag: Too small: expected string to have >=1 characters'],
  [
    'sign',
    { tag: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' },
    'invalid signer options: tag: Too big: expected string to have <=64 characters',
  ],
  ['sign', { tag: 5 }, 'invalid signer options: tag: Invalid input: expected string, received number'],
  ['sign', { label: 'Bad' }, 'invalid signer options: label: Invalid string: must match pattern /^[a-z*][a-z0-9_.*-]{0,63}$/'],
  ['sign', { label: '' }, 'invalid signer options: label: Invalid string: must match pattern /^[a-z*][a-z0-9_.*-]{0,63}$/'],
  ['sign', { label: 7 }, 'invalid signer options: label: Invalid input: expected string, received number'],
  ['sign', { components: [''] }, 'invalid signer options: components.0: Too small: expected string to have >=1 characters'],
  ['sign', { components: 'x' }, 'invalid signer options: components: Invalid input: expected array, received string'],
  ['sign', { components: [1] }, 'invalid signer options: components.0: Invalid input: expected string, received number'],
  ['sign', { digestAlgorithm: 'md5' }, 'invalid signer options: digestAlgorithm: Invalid option: expected one of "sha-256"|"sha-512"'],
  ['sign', { now: 5 }, 'invalid signer options: now: Invalid input: expected function, received number'],
  ['sign', { params: 'x' }, 'invalid signer options: params: Invalid input: expected record, received string'],
  ['sign', { params: null }, 'invalid signer options: params: Invalid input: expected record, received null'],
  ['sign', { token: 5 }, 'invalid signer options: token: Invalid input: expected string, received number'],
  ['sign', { keyId: 5 }, 'invalid signer options: keyId: Invalid input: expected string, received number'],
  ['presign', { expiresInMs: 999 }, 'invalid presignUrl options: expiresInMs: Too small: expected number to be >=1000'],
  ['presign', { expiresInMs: 604800001 }, 'invalid presignUrl options: expiresInMs: Too big: expected number to be <=604800000'],
  ['presign', { expiresInMs: 1.5 }, 'invalid presignUrl options: expiresInMs: Invalid input: expected int, received number'],
  ['presign', { expiresInMs: '9' }, 'invalid presignUrl options: expiresInMs: Invalid input: expected number, received string'],
  ['presign', { method: 'GE T' }, 'invalid presignUrl options: method: Invalid string: must match pattern /^[A-Za-z]{1,16}$/'],
  ['presign', { method: '' }, 'invalid presignUrl options: method: Invalid string: must match pattern /^[A-Za-z]{1,16}$/'],
  ['presign', { method: 5 }, 'invalid presignUrl options: method: Invalid input: expected string, received number'],
  ['presign', { maxBytes: -1 }, 'invalid presignUrl options: maxBytes: Too small: expected number to be >=0'],
  ['presign', { maxBytes: 1.5 }, 'invalid presignUrl options: maxBytes: Invalid input: expected int, received number'],
  ['presign', { maxBytes: 2 ** 60 }, 'invalid presignUrl options: maxBytes: Too big: expected int to be <=9007199254740991'],
  ['presign', { contentDigest: '' }, 'invalid presignUrl options: contentDigest: Too small: expected string to have >=1 characters'],
  [
    'presign',
    { contentDigest: 'x'.repeat(513) },
    'invalid presignUrl options: contentDigest: Too big: expected string to have <=512 characters',
  ],
  ['presign', { singleUse: 'yes' }, 'invalid presignUrl options: singleUse: Invalid input: expected boolean, received string'],
  ['presign', { now: 'x' }, 'invalid presignUrl options: now: Invalid input: expected function, received string'],
  ['presign', { expiresIn: 60 }, 'invalid presignUrl options: expiresIn: `expiresIn` was renamed `expiresInMs` (milliseconds)'],
]

describe('the same messages as the zod schemas gave', () => {
  it.each(CASES)('%s %o', async (kind, extra, message) => {
    const run =
      kind === 'sign'
        ? () => signRequest(new Request('https://a.example/x'), { ...creds, ...extra } as never)
        : () => presignUrl('https://a.example/x', { ...creds, ...extra } as never)
    await expect(run()).rejects.toMatchObject({
      name: 'ConfigurationError',
      code: 'CONFIGURATION_INVALID',
      message,
    })
  })
})

describe('an unknown option is refused, naming the closest known one (issue 23 item 9)', () => {
  const entries: Record<string, (o: Record<string, unknown>) => unknown> = {
    signRequest: (o) => signRequest(new Request('https://a.example/x'), { ...creds, ...o } as never),
    createSignedFetch: (o) => createSignedFetch({ ...creds, ...o } as never),
    createSigningInterceptor: (o) => createSigningInterceptor({ ...creds, ...o } as never),
    presignUrl: (o) => presignUrl('https://a.example/x', { ...creds, ...o } as never),
    sigilAxios: (o) => sigilAxios(axios.create(), { ...creds, ...o } as never),
    sigilGot: (o) => sigilGot({ ...creds, ...o } as never),
  }
  const refusal = async (f: () => unknown) => {
    try {
      await f()
    } catch (e) {
      return e as Error & { code?: string }
    }
    return undefined
  }
  for (const [name, make] of Object.entries(entries)) {
    it(name, async () => {
      const e = await refusal(() => make({ expireInMs: 60_000 }))
      expect(e).toMatchObject({ name: 'ConfigurationError', code: 'CONFIGURATION_INVALID' })
      expect(e?.message).toMatch(/: expireInMs: unknown option, did you mean `expiresInMs`\?$/)
      expect((await refusal(() => make({ zzzzzzzzz: 1 })))?.message).toMatch(/: zzzzzzzzz: unknown option$/)
      // The renamed option still names its successor.
      expect((await refusal(() => make({ expiresIn: 60 })))?.message).toMatch(/`expiresIn` was renamed `expiresInMs` \(milliseconds\)$/)
      // An undefined value is an absent option, as before.
      expect(await refusal(() => make({ expiresInMs: undefined, tag: undefined }))).toBeUndefined()
    })
  }
  it('names options of the entry point itself', async () => {
    expect(() => createSignedFetch({ ...creds, bufferStream: true } as never)).toThrow(
      /bufferStream: unknown option, did you mean `bufferStreams`\?/,
    )
    expect(() => createSigningInterceptor({ ...creds, orign: 'https://a.example' } as never)).toThrow(/did you mean `origin`\?/)
    expect(() => sigilGot({ ...creds, maxBuferBytes: 1 } as never)).toThrow(/did you mean `maxBufferBytes`\?/)
    // A createSignedFetch option is not a signRequest one.
    await expect(signRequest(new Request('https://a.example/x'), { ...creds, bufferStreams: true } as never)).rejects.toThrow(
      /bufferStreams: unknown option/,
    )
  })
})
