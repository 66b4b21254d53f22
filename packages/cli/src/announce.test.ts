import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyLayout } from '@sigil/redis'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_REDIS_URL } from '../../../test/helpers/services.js'
import { EXIT } from './exit-codes.js'
import type { CliIo } from './io.js'
import { run } from './run.js'

const dir = mkdtempSync(join(tmpdir(), 'sigil-announce-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function io(env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: (s) => err.push(s) },
    env: { SIGIL_MASTER_KEY: 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', SIGIL_STORE: join(dir, 'keys.db'), ...env },
    cwd: dir,
  }
  return { cli, out: () => out.join(''), err: () => err.join('') }
}

async function createKey(env: Record<string, string>): Promise<string> {
  const a = io(env)
  expect(await run(['keys', 'create', '--principal', 'acme', '--json'], a.cli)).toBe(0)
  return (JSON.parse(a.out()) as { keyId: string }).keyId
}

describe('sigil keys revoke/rotate announce on Redis when SIGIL_REDIS_URL is set', () => {
  it('publishes revoked and rotated on the fan-out channel', async () => {
    const prefix = `sigil-cli-${process.pid}-${Date.now()}`
    const env = { SIGIL_REDIS_URL: TEST_REDIS_URL, SIGIL_REDIS_PREFIX: prefix }
    const sub = new Redis(TEST_REDIS_URL)
    const got: Array<{ type: string; keyId: string; replacedBy?: string }> = []
    sub.on('message', (_c, m) => got.push(JSON.parse(m)))
    await sub.subscribe(keyLayout(prefix).channel)
    try {
      const a = await createKey(env)
      expect(await run(['keys', 'revoke', a], io(env).cli)).toBe(0)
      const b = await createKey(env)
      expect(await run(['keys', 'rotate', b, '--grace', '0'], io(env).cli)).toBe(0)
      for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20))
      expect(got[0]).toEqual({ type: 'revoked', keyId: a })
      expect(got[1]).toMatchObject({ type: 'rotated', keyId: b })
      expect(got[1]?.replacedBy).toMatch(/^[A-Za-z0-9]{8,64}$/)
    } finally {
      sub.disconnect()
    }
  })

  it('warns and exits 4 when Redis does not take the announcement; the key is still revoked', async () => {
    const env = { SIGIL_REDIS_URL: 'redis://127.0.0.1:1' }
    const keyId = await createKey({})
    const a = io(env)
    expect(await run(['keys', 'revoke', keyId], a.cli)).toBe(EXIT.STORE)
    expect(a.err()).toContain('warning')
    const show = io({})
    expect(await run(['keys', 'show', keyId, '--json'], show.cli)).toBe(0)
    expect(JSON.parse(show.out())).toMatchObject({ status: 'revoked' })
  })
})
