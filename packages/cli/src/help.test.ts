import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateMasterKey } from '@sigil/keys'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_REDIS_URL } from '../../../test/helpers/services.js'
import type { CliIo } from './io.js'
import { COMMANDS, run } from './run.js'

// Asking for help never acts (issue 28): `sigil admin serve --help` used to start a server,
// `sigil admin login --help` printed a live sign-in link. The tree is read from the CLI's own
// command table, so a command or subcommand added later is walked too.
const dir = mkdtempSync(join(tmpdir(), 'sigil-help-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const masterKey = generateMasterKey('v1')

function io() {
  const cwd = mkdtempSync(join(dir, 'cwd-'))
  const out: string[] = []
  const err: string[] = []
  const fetched: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(String(s)) },
    stderr: { write: (s) => err.push(String(s)) },
    // Everything a command would need to act: a master key, a token, a portal URL.
    env: { SIGIL_MASTER_KEY: masterKey, SIGIL_ADMIN_URL: 'http://127.0.0.1:9', PORT: '0' },
    cwd,
    fetch: async (input) => {
      fetched.push(String(input))
      throw new Error('help must not send a request')
    },
  }
  return { cli, out: () => out.join(''), err: () => err.join(''), fetched, files: () => readdirSync(cwd) }
}

/** Resolve to run()'s exit code, or fail if it does not return (a server started). */
async function runBounded(argv: string[], cli: CliIo): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`sigil ${argv.join(' ')} did not return: it acted instead of printing help`)), 5000)
  })
  try {
    return await Promise.race([run(argv, cli), hung])
  } finally {
    clearTimeout(timer)
  }
}

/** Every command line the table knows, top-level and sub-, each with the ways to ask for help. */
async function commandLines(): Promise<string[][]> {
  const lines: string[][] = []
  for (const [name, entry] of Object.entries(COMMANDS)) {
    lines.push([name])
    const { subcommands } = await entry.help()
    for (const sub of Object.keys(subcommands ?? {})) lines.push([name, sub])
  }
  return lines
}

describe('--help on every command', async () => {
  const lines = await commandLines()

  it('walks a tree that has every subcommand in it', () => {
    const names = lines.map((l) => l.join(' '))
    for (const l of ['keys create', 'keys revoke', 'admin serve', 'admin login', 'admin invite', 'master-key rotate', 'curl', 'explain'])
      expect(names).toContain(l)
  })

  for (const line of lines) {
    for (const ask of [['--help'], ['-h'], ['--json', '--help'], ['--port', '0', '-h', 'https://api.example.com/']]) {
      const argv = [...line, ...ask]
      it(`sigil ${argv.join(' ')} prints usage, exits 0 and does nothing else`, async () => {
        const a = io()
        expect(await runBounded(argv, a.cli)).toBe(0)
        expect(a.out()).toMatch(/usage|sigil /)
        expect(a.out()).toContain(line.join(' '))
        expect(a.out()).not.toMatch(/token=|sigil_sk_|portal on/)
        expect(a.err()).toBe('')
        expect(a.fetched).toEqual([])
        expect(a.files()).toEqual([]) // no store, no audit log created
      })
    }
  }

  it('an unknown subcommand with --help is still a usage error', async () => {
    const a = io()
    expect(await runBounded(['admin', 'srve', '--help'], a.cli)).toBe(64)
    expect(a.err()).toContain('unknown command: admin srve')
  })

  it('admin invite without --principal shows the usage line, not only the complaint', async () => {
    const a = io()
    expect(await runBounded(['admin', 'invite'], a.cli)).toBe(64)
    expect(a.err()).toContain('--principal is required')
    expect(a.err()).toContain('usage: sigil admin invite --principal P')
  })
})

// The processes a user starts: the real bin, on the TypeScript sources.
const bin = fileURLToPath(new URL('./bin.ts', import.meta.url))
const tsx = import.meta.resolve('tsx')

function sigil(
  args: string[],
  env: Record<string, string>,
  cwd = dir,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', tsx, bin, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '', SIGIL_MASTER_KEY: masterKey, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr, ms: performance.now() - t0 })
      },
    )
  })
}

describe('sigil admin serve (spawned)', () => {
  it('--help exits 0 at once and starts nothing', async () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'))
    const r = await sigil(['admin', 'serve', '--help'], {}, cwd)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('usage: sigil admin serve')
    expect(readdirSync(cwd)).toEqual([])
  })

  it('exits non-zero, naming the port, when it cannot listen — even with Redis connected', async () => {
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const port = (busy.address() as { port: number }).port
    const store = join(mkdtempSync(join(tmpdir(), 'sigil-busy-')), 'keys.db')
    try {
      const r = await sigil(['admin', 'serve', '--port', String(port), '--store', store], { SIGIL_REDIS_URL: TEST_REDIS_URL })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`127.0.0.1:${port} is already in use`)
      expect(r.ms).toBeLessThan(20_000)
    } finally {
      busy.close()
      rmSync(join(store, '..'), { recursive: true, force: true })
    }
  }, 30_000)
})
