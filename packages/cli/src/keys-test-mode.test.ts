import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseToken } from '@sigil/core'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import type { CliIo } from './io.js'
import { run } from './run.js'

// Issue 27: `sigil keys create --test` makes a test key (sigil_tk_ token, stored as such), and
// `--json` prints the token's parts (SPEC §4) for a partner who is not on TypeScript.
const dir = mkdtempSync(join(tmpdir(), 'sigil-test-mode-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const MASTER = 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='

function io() {
  const out: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: () => {} },
    env: { SIGIL_MASTER_KEY: MASTER, SIGIL_STORE: join(dir, 'keys.db') },
    cwd: dir,
  }
  return { cli, out: () => out.join('') }
}

describe('sigil keys create', () => {
  it('--json prints the token parts, which put back together are the token', async () => {
    const a = io()
    expect(await run(['keys', 'create', '--principal', 'acme', '--json'], a.cli)).toBe(0)
    const c = JSON.parse(a.out())
    const p = c.tokenParts
    expect(p.prefix).toBe('sigil_sk_')
    expect(p.keyId).toBe(c.keyId)
    expect(`${p.prefix}${p.keyId}_${p.secret}_${p.checksum}`).toBe(c.token)
    expect(p.checksum).toMatch(/^[0-9A-Za-z]{6}$/)
    expect(Buffer.from(p.secret, 'base64url')).toEqual(Buffer.from(parseToken(c.token).secret))
    expect(c.test).toBe(false)
  })

  it('--test makes a test key: sigil_tk_ token, stored as a test key, shown as one', async () => {
    const a = io()
    expect(await run(['keys', 'create', '--principal', 'acme', '--test', '--json'], a.cli)).toBe(0)
    const c = JSON.parse(a.out())
    expect(c.token).toMatch(/^sigil_tk_/)
    expect(c).toMatchObject({ test: true, tokenParts: { prefix: 'sigil_tk_' }, key: { test: true } })
    const store = createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey: MASTER })
    try {
      expect((await store.get(c.keyId))?.test).toBe(true)
      const rotated = await store.rotate(c.keyId)
      expect(rotated.token).toMatch(/^sigil_tk_/)
      expect((await store.get(rotated.keyId))?.test).toBe(true)
    } finally {
      await store.close()
    }
    const shown = io()
    expect(await run(['keys', 'show', c.keyId, '--json'], shown.cli)).toBe(0)
    expect(JSON.parse(shown.out())).toMatchObject({ test: true })
  })
})
