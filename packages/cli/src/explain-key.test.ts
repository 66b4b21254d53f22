import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signRequest } from '@sigil/client'
import { parseToken } from '@sigil/core'
import { toBase64Url } from '@sigil/core/internal'
import { afterAll, describe, expect, it } from 'vitest'
import type { CliIo } from './io.js'
import { run } from './run.js'

// The secret part of a token (base64url, which may itself contain '_'), to check it is never printed.
const secretOf = (token: string) => toBase64Url(parseToken(token).secret)

const dir = mkdtempSync(join(tmpdir(), 'sigil-explain-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function io() {
  const out: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: () => {} },
    env: { SIGIL_MASTER_KEY: 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
    cwd: dir,
  }
  return { cli, out: () => out.join('') }
}

describe('sigil explain looks the key up in a named store', () => {
  it('reports an active key and a matching MAC, then KEY_REVOKED after revocation', async () => {
    const store = join(dir, 'keys.db')
    const c = io()
    expect(await run(['keys', 'create', '--principal', 'acme', '--store', store, '--json'], c.cli)).toBe(0)
    const { keyId, token } = JSON.parse(c.out()) as { keyId: string; token: string }
    const now = 1_735_689_600
    const signed = await signRequest(new Request('https://api.example.com/v1/orders?b=2'), { token, now: () => now * 1000 })
    const args = [
      'explain',
      '--store',
      store,
      '--now',
      String(now),
      '--signature-input',
      signed.headers.get('signature-input') as string,
      '--signature',
      signed.headers.get('signature') as string,
      '--json',
      'https://api.example.com/v1/orders?b=2',
    ]
    const ok = io()
    expect(await run(args, ok.cli)).toBe(0)
    const report = JSON.parse(ok.out()) as { ok: boolean; checks: Array<{ step: string; ok: boolean | null; code?: string }> }
    expect(report.ok).toBe(true)
    expect(report.checks.find((x) => x.step === 'key')).toMatchObject({ ok: true })
    expect(report.checks.find((x) => x.step === 'mac')).toMatchObject({ ok: true })
    expect(ok.out()).not.toContain(secretOf(token))

    expect(await run(['keys', 'revoke', keyId, '--store', store], io().cli)).toBe(0)
    const revoked = io()
    expect(await run(args, revoked.cli)).toBe(1)
    expect(JSON.parse(revoked.out())).toMatchObject({ ok: false, code: 'KEY_REVOKED' })
  })
})
