import { describe, expect, it } from 'vitest'
import { EXIT } from './exit-codes.js'
import { parseDuration, parseSize } from './format.js'
import type { CliIo } from './io.js'
import { run } from './run.js'

function io(env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: (s) => err.push(s) },
    env,
    cwd: '/nonexistent-sigil-cwd',
  }
  return { cli, out: () => out.join(''), err: () => err.join('') }
}

describe('run() in-process', () => {
  it('prints help and exits 64 without a command, 0 with --help', async () => {
    const a = io()
    expect(await run([], a.cli)).toBe(EXIT.USAGE)
    expect(a.out()).toContain('usage: sigil <command>')
    expect(await run(['--help'], io().cli)).toBe(0)
    expect(await run(['keys', 'rotate', '--help'], io().cli)).toBe(0)
  })

  it('reports usage errors as JSON on stderr with --json', async () => {
    const a = io()
    expect(await run(['keys', 'list', '--bogus', '--json'], a.cli)).toBe(EXIT.USAGE)
    expect(JSON.parse(a.err()).error).toMatchObject({ code: 'USAGE', exitCode: 64 })
    expect(a.out()).toBe('')
  })

  it('lists nothing, without creating a store, when none exists yet', async () => {
    const a = io({ SIGIL_MASTER_KEY: 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' })
    expect(await run(['keys', 'list', '--json'], a.cli)).toBe(0)
    expect(JSON.parse(a.out())).toEqual([])
  })

  it('rejects a malformed token with exit 2 and never echoes it', async () => {
    const a = io()
    expect(await run(['explain', '--token', 'sigil_sk_abcdefgh_SECRETPART_zzzzzz', 'https://x.test/'], a.cli)).toBe(EXIT.TOKEN)
    expect(a.err()).not.toContain('SECRETPART')
  })

  it('prints the base Sigil would sign when there is no signature', async () => {
    const a = io()
    expect(await run(['explain', '--now', '1735689600', 'https://API.example.com:443/v1/x?b=2'], a.cli)).toBe(1)
    expect(a.out()).toContain('"@authority": api.example.com\n')
    expect(a.out()).toContain('"@query": ?b=2\n')
    expect(a.out()).toContain('SIGNATURE_MISSING')
  })

  it('parses durations', () => {
    expect(parseDuration('90d')).toBe(90 * 86_400_000)
    expect(parseDuration('0')).toBe(0)
    expect(parseDuration('15')).toBeUndefined()
    expect(parseDuration('1w')).toBeUndefined()
  })

  it('parses sizes', () => {
    expect(parseSize('1048576')).toBe(1_048_576)
    expect(parseSize('10MiB')).toBe(10 * 1024 ** 2)
    expect(parseSize('512KiB')).toBe(512 * 1024)
    expect(parseSize('2MB')).toBe(2_000_000)
    expect(parseSize('0')).toBe(0)
    expect(parseSize('1.5MiB')).toBeUndefined()
    expect(parseSize('-1')).toBeUndefined()
    expect(parseSize('10 potatoes')).toBeUndefined()
  })

  it('explain --window takes a duration, as every duration flag does', async () => {
    const a = io()
    expect(await run(['explain', '--window', '300', 'https://api.example.com/v1/x'], a.cli)).toBe(EXIT.USAGE)
    expect(a.err()).toContain('--window takes a duration from 1s to 1h (e.g. 90s, 5m)')
    const b = io()
    expect(await run(['explain', '--window', '90s', '--now', '1735689600', 'https://api.example.com/v1/x'], b.cli)).toBe(1)
    expect(b.out()).toContain('SIGNATURE_MISSING')
  })
})
