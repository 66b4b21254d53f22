import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes, toBase64Url } from '@sigil/core/internal'
import { verify } from '@sigil/server'
import { describe, expect, it } from 'vitest'
import { EXIT } from './exit-codes.js'
import type { CliIo } from './io.js'
import { run } from './run.js'

const keyId = 'kCliPresign0001'
const secret = randomBytes(32)
const t0 = 1_800_000_000_000
const cwd = mkdtempSync(join(tmpdir(), 'sigil-presign-'))

function io() {
  const out: string[] = []
  const err: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: (s) => err.push(s) },
    env: {},
    cwd,
    now: () => t0,
  }
  return { cli, out: () => out.join(''), err: () => err.join('') }
}

// `--secret=<value>`: a base64url secret starts with '-' one time in 64, which parseArgs (rightly)
// refuses as an ambiguous `--secret -…` — the flake this form avoids, as a user must.
const creds = ['--key-id', keyId, `--secret=${toBase64Url(secret)}`]
const options = (at: number) => ({
  keys: {
    get: (id: string) =>
      id === keyId ? { keyId, secret, principal: 'p', scopes: [], status: 'active' as const, createdAt: new Date(0) } : undefined,
  },
  presigned: true,
  now: () => at,
})

describe('sigil presign', () => {
  it('prints a link the server accepts until --expires, and never the secret', async () => {
    const a = io()
    expect(await run(['presign', 'https://files.example.com/v1/a.pdf?v=2', '--expires', '1h', ...creds], a.cli)).toBe(0)
    const link = a.out().trim()
    expect(link).not.toContain(toBase64Url(secret))
    await expect(verify(new Request(link), options(t0 + 3_599_000))).resolves.toMatchObject({ presigned: true, keyId })
    await expect(verify(new Request(link), options(t0 + 3_600_000))).rejects.toMatchObject({ code: 'SIGNATURE_EXPIRED' })
  })

  it('binds an upload link to --max-bytes and --digest-of; --once makes a link single-use', async () => {
    writeFileSync(join(cwd, 'up.bin'), 'hello')
    const a = io()
    const args = ['presign', 'https://files.example.com/up', '-X', 'put', '--max-bytes', '5', '--digest-of', 'up.bin', '--json']
    expect(await run([...args, ...creds], a.cli)).toBe(0)
    const { url, expiresAt } = JSON.parse(a.out())
    expect(expiresAt).toBe(new Date(t0 + 900_000).toISOString())
    const hoisted = options(t0)
    const put = (body: string) => verify(new Request(url, { method: 'PUT', body }), hoisted)
    await expect(put('hellO')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' })
    await expect(put('hello!')).rejects.toMatchObject({ code: 'BODY_TOO_LARGE' })
    await expect(put('hello')).resolves.toMatchObject({ presigned: true })
    await expect(put('hello')).resolves.toMatchObject({ presigned: true })
    const b = io()
    expect(await run(['presign', 'https://files.example.com/up', '--once', ...creds], b.cli)).toBe(0)
    const once = b.out().trim()
    await expect(verify(new Request(once), hoisted)).resolves.toMatchObject({ presigned: true })
    await expect(verify(new Request(once), hoisted)).rejects.toMatchObject({ code: 'NONCE_REPLAYED' })
  })

  it.each([['0'], ['8d'], ['soon']])('refuses --expires %s as a usage error', async (e) => {
    expect(await run(['presign', 'https://x.test/', '--expires', e, ...creds], io().cli)).toBe(EXIT.USAGE)
  })
})
