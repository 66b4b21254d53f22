import { createHmac } from 'node:crypto'
import { formatToken } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { SIGIL_URL_V1, secretOf } from '../../../test/vectors/load.js'
import { presignUrl } from './presign-url.js'

// The vectors' nonce is fixed; presignUrl draws a fresh one. Put the drawn nonce into the
// expected base and check the MAC with an independent node:crypto HMAC.
function expectMatches(link: string, v: (typeof SIGIL_URL_V1)[number]) {
  const u = new URL(link)
  const input = u.searchParams.get('sigil-input') ?? ''
  const nonce = /;nonce="([^"]+)"/.exec(input)?.[1] ?? ''
  expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/)
  expect(nonce).not.toBe(v.nonce)
  const swap = (s: string) => s.replace(`nonce="${v.nonce}"`, `nonce="${nonce}"`)
  expect(input).toBe(swap(v.signatureInput))
  const base = swap(v.base)
  const mac = createHmac('sha256', secretOf(v.secretBase64)).update(base).digest('base64')
  expect(u.searchParams.get('sigil')).toBe(`sig1=:${mac}:`)
  const expectedPrefix = v.url.slice(0, v.url.indexOf('sigil-input='))
  expect(link.slice(0, link.indexOf('sigil-input='))).toBe(expectedPrefix)
}

describe('presignUrl', () => {
  const [plain, withQuery, , upload, once, week] = SIGIL_URL_V1
  const at = (v: { created: number }) => () => v.created * 1000 + 400
  const creds = (v: { keyId: string; secretBase64: string }) => ({ keyId: v.keyId, secret: secretOf(v.secretBase64) })

  it('signs a GET link as the vectors say', async () => {
    if (!plain || !withQuery || !week) throw new Error('vectors')
    expectMatches(await presignUrl('https://files.example.com/v1/reports/7.pdf', { ...creds(plain), now: at(plain) }), plain)
    expectMatches(
      await presignUrl('https://files.example.com/v1/reports?b=2&a=1&q=caf%C3%A9%20bar', {
        ...creds(withQuery),
        expiresInMs: 3_600_000,
        now: at(withQuery),
      }),
      withQuery,
    )
    expectMatches(await presignUrl('https://files.example.com/v1/a?', { ...creds(week), expiresInMs: 604_800_000, now: at(week) }), week)
  })

  it('binds an upload to its size and digest, and a single-use link to its nonce', async () => {
    if (!upload || !once) throw new Error('vectors')
    const link = await presignUrl('https://FILES.example.com:8443/v1/uploads/a.bin', {
      ...creds(upload),
      method: 'put',
      expiresInMs: 600_000,
      maxBytes: 11,
      contentDigest: 'sha-256=:uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=:',
      now: at(upload),
    })
    expectMatches(link.replace('FILES', 'files'), upload)
    expectMatches(
      await presignUrl('http://127.0.0.1:8080/dl?x=1&', { ...creds(once), expiresInMs: 60_000, singleUse: true, now: at(once) }),
      once,
    )
  })

  it('accepts a token, and signs HEAD as the GET it stands for', async () => {
    if (!plain) throw new Error('vectors')
    const token = formatToken(plain.keyId.replace(/_/g, 'x').padEnd(16, 'x').slice(0, 16), secretOf(plain.secretBase64))
    const link = await presignUrl('https://files.example.com/x', { token, method: 'HEAD' })
    expect(new URL(link).searchParams.get('sigil-input')).toContain('tag="sigil-url"')
    const head = await presignUrl('https://files.example.com/x', { ...creds(plain), method: 'head', now: at(plain) })
    const get = await presignUrl('https://files.example.com/x', { ...creds(plain), now: at(plain) })
    const inner = (l: string) => (new URL(l).searchParams.get('sigil-input') ?? '').replace(/nonce="[^"]+"/, '')
    expect(inner(head)).toBe(inner(get))
  })

  it.each([
    ['a lifetime over 7 days', { expiresInMs: 604_801_000 }],
    ['a zero lifetime', { expiresInMs: 0 }],
    ['a lifetime under a second', { expiresInMs: 999 }],
    ['a fractional lifetime', { expiresInMs: 1500.5 }],
    ['a negative size bound', { maxBytes: -1 }],
    ['a method that is not a token', { method: 'GET /x' }],
  ])('refuses %s with a ConfigurationError naming the option', async (_n, extra) => {
    if (!plain) throw new Error('vectors')
    await expect(presignUrl('https://files.example.com/x', { ...creds(plain), ...extra })).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringMatching(/expiresInMs|maxBytes|method/),
    })
  })

  it('refuses the old expiresIn (seconds), naming expiresInMs', async () => {
    if (!plain) throw new Error('vectors')
    await expect(presignUrl('https://files.example.com/x', { ...creds(plain), expiresIn: 3600 } as never)).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: 'invalid presignUrl options: expiresIn: `expiresIn` was renamed `expiresInMs` (milliseconds)',
    })
  })

  it('counts a lifetime in whole seconds (1999 ms is 1 s)', async () => {
    if (!plain) throw new Error('vectors')
    const link = await presignUrl('https://files.example.com/x', { ...creds(plain), expiresInMs: 1999, now: () => 1_700_000_000_400 })
    expect(new URL(link).searchParams.get('sigil-input')).toMatch(/;created=1700000000;expires=1700000001;/)
  })

  it('refuses URLs it cannot sign safely', async () => {
    if (!plain) throw new Error('vectors')
    await expect(presignUrl('ftp://files.example.com/x', creds(plain))).rejects.toMatchObject({ name: 'ConfigurationError' })
    await expect(presignUrl('https://u:p@files.example.com/x', creds(plain))).rejects.toMatchObject({ name: 'ConfigurationError' })
    const link = await presignUrl('https://files.example.com/x', creds(plain))
    await expect(presignUrl(link, creds(plain))).rejects.toMatchObject({ name: 'ConfigurationError' })
  })

  it('defaults to a 15-minute GET link', async () => {
    if (!plain) throw new Error('vectors')
    const link = await presignUrl('https://files.example.com/x', { ...creds(plain), now: () => 1_000_000_000_000 })
    const input = new URL(link).searchParams.get('sigil-input') ?? ''
    expect(input).toContain('created=1000000000;expires=1000000900;')
  })
})
