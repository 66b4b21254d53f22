import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSignedFetch } from '@sigil/client'
import { generateMasterKey } from '@sigil/keys'
import { resolveSqliteDriver } from '@sigil/keys/sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from './exit-codes.js'
import type { CliIo } from './io.js'
import { run } from './run.js'

// `sigil admin serve` as a user runs it (a separate process on the embedded store), and the
// links `sigil admin login` / `invite` print, used against it.
const bin = fileURLToPath(new URL('./bin.ts', import.meta.url))
const tsx = import.meta.resolve('tsx')
const dir = mkdtempSync(join(tmpdir(), 'sigil-admin-cli-'))
// SIGIL_SQLITE_DRIVER (pnpm test:sqlite-drivers) applies to the server process too.
const driver = resolveSqliteDriver()
const env = { PATH: process.env.PATH ?? '', SIGIL_MASTER_KEY: generateMasterKey('v1'), SIGIL_SQLITE_DRIVER: driver }

function io() {
  const out: string[] = []
  const err: string[] = []
  const cli: CliIo = { stdout: { write: (s) => out.push(String(s)) }, stderr: { write: (s) => err.push(String(s)) }, env, cwd: dir }
  return { cli, out: () => out.join(''), err: () => err.join('') }
}

describe('sigil admin', () => {
  let child: ChildProcess
  let url: string
  beforeAll(async () => {
    child = spawn(process.execPath, ['--conditions=source', '--import', tsx, bin, 'admin', 'serve', '--port', '0'], { cwd: dir, env })
    url = await new Promise<string>((resolve, reject) => {
      let buf = ''
      child.stdout?.on('data', (d) => {
        buf += d
        const m = /portal on (http:\/\/\S+)/.exec(buf)
        if (m) resolve(m[1] as string)
      })
      child.once('exit', (c) => reject(new Error(`admin serve exited ${c}`)))
    })
  }, 30_000)
  afterAll(() => {
    child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves the API to an admin key created with sigil keys create --scope admin', async () => {
    const a = io()
    if (driver === 'wasm') {
      // The wasm driver holds keys.db alone: while the portal runs, the CLI is refused, by name.
      expect(await run(['keys', 'create', '--principal', 'ops', '--scope', 'admin', '--json'], a.cli)).toBe(EXIT.STORE)
      expect(JSON.parse(a.err()).error.message).toMatch(/SQLITE_BUSY/)
      return
    }
    expect(await run(['keys', 'create', '--principal', 'ops', '--scope', 'admin', '--json'], a.cli)).toBe(0)
    const { token } = JSON.parse(a.out())
    const api = createSignedFetch({ token })
    const res = await api(`${url}/api/v1/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"principal":"acme"}',
    })
    expect(res.status).toBe(201)
    expect((await fetch(`${url}/api/v1/openapi.json`)).status).toBe(200)
  })

  it('prints a sign-in link and an invite link that the portal accepts once', async () => {
    for (const args of [
      ['admin', 'login', '--url', url],
      ['admin', 'invite', '--principal', 'acme', '--scopes', 'orders:read', '--url', url],
    ]) {
      const a = io()
      expect(await run(args, a.cli)).toBe(0)
      const link = new URL(a.out().trim())
      const post = () =>
        fetch(`${url}/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: link.searchParams.get('token') ?? '' }).toString(),
        })
      expect((await post()).status).toBe(303)
      expect((await post()).status).toBe(401)
    }
  })

  it('refuses an invite that would allow the admin scope (the operator authority)', async () => {
    const a = io()
    expect(await run(['admin', 'invite', '--principal', 'acme', '--scopes', 'orders:read,admin'], a.cli)).toBe(EXIT.USAGE)
    expect(a.err()).toContain('--scopes')
    expect(a.out()).toBe('')
  })

  it('login --operator NAME signs the operator in under that name: the portal and the audit log say who', async () => {
    const a = io()
    expect(await run(['admin', 'login', '--operator', 'alice', '--url', url], a.cli)).toBe(0)
    const link = new URL(a.out().trim())
    const login = await fetch(`${url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: link.searchParams.get('token') ?? '' }).toString(),
    })
    expect(login.status).toBe(303)
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string
    const keys = await (await fetch(`${url}/keys`, { headers: { cookie } })).text()
    expect(keys).toContain('Operator alice')
    const events = await (await fetch(`${url}/events`, { headers: { cookie } })).text()
    expect(events).toMatch(/operator:alice<\/td><td>session\.login/)
  })

  it('login refuses two different names and a name with control characters', async () => {
    const a = io()
    expect(await run(['admin', 'login', '--operator', 'alice', '--name', 'bob'], a.cli)).toBe(EXIT.USAGE)
    expect(a.err()).toContain('--operator')
    const b = io()
    expect(await run(['admin', 'login', '--operator', 'al\u0007ice'], b.cli)).toBe(EXIT.USAGE)
    expect(b.out()).toBe('')
  })
})
