// Every command in the README works verbatim, in order, on a fresh clone (issue 28): the "Try it"
// set-up (install, then build), `pnpm demo`, and the developer portal's commands, ending with
// `sigil admin serve` answering. The clone is of HEAD (commit first), installed for real with
// pnpm from its store (offline: what the lockfile names must already be in the store, as after
// any install on this machine), so a bin that pnpm cannot link before the build fails here.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { commandOf, NOT_RUN, README_COMMAND_SECTIONS, shellLines } from './readme-commands.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'sigil-fresh-clone-'))
const clone = join(work, 'sigil')
let child: ChildProcess | undefined

afterAll(() => {
  if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM')
  rmSync(work, { recursive: true, force: true })
})

// `npm i -g pnpm@10` would install pnpm from the registry: here pnpm 10 is already on PATH, so a
// stand-in `npm` checks that instead and passes any other npm command to the real one.
function npmStandIn(): string {
  const bin = join(work, 'bin')
  mkdirSync(bin)
  const realNpm = execFileSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()
  writeFileSync(
    join(bin, 'npm'),
    `#!/usr/bin/env bash\nif [ "$*" = "i -g pnpm@10" ]; then pnpm --version | grep -q '^10\\.' && exit 0; echo "pnpm 10 is not on PATH" >&2; exit 1; fi\nexec ${JSON.stringify(realNpm)} "$@"\n`,
  )
  chmodSync(join(bin, 'npm'), 0o755)
  return bin
}

describe('the README on a fresh clone', () => {
  it('runs every command, in order: install, build, demo, the CLI, and admin serve until it answers', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const lines = README_COMMAND_SECTIONS.flatMap((s) => shellLines(readme, s))
    const toRun = lines.filter((l) => !(commandOf(l) in NOT_RUN))
    const serve = toRun.at(-1) as string
    expect(commandOf(serve)).toBe('pnpm exec sigil admin serve')

    execFileSync('git', ['clone', '-q', root, clone])
    const env: Record<string, string> = {
      PATH: `${npmStandIn()}:${process.env.PATH}`,
      HOME: process.env.HOME ?? work,
      TMPDIR: tmpdir(),
      // `pnpm install` as written, served from the local store: no registry in a test.
      npm_config_offline: 'true',
      npm_config_frozen_lockfile: 'true',
      // admin serve's port (the README's 8080 may be taken on a shared machine): any free one.
      PORT: '0',
    }
    // One shell, as a user types them: `export` in one line is seen by the next; the last line
    // (the server) keeps running. Before it, the test's own check (not a README line): the
    // filtered form, which pnpm runs in packages/cli, lists the key from the same store.
    const echo = (l: string) => `echo "+ ${commandOf(l).replace(/["$`\\]/g, '\\$&')}"\n${l}`
    const check = [
      'echo "+ (check) same store from packages/cli"',
      'pnpm --filter @sigil/cli exec sigil keys list --json',
      'test ! -e packages/cli/.sigil',
    ]
    const script = ['set -euo pipefail', ...toRun.slice(0, -1).map(echo), ...check, echo(serve)].join('\n')
    const t0 = Date.now()
    child = spawn('bash', ['-c', script], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout?.on('data', (d) => {
      out += d
    })
    child.stderr?.on('data', (d) => {
      out += d
    })
    const url = await new Promise<string>((resolve, reject) => {
      const poll = setInterval(() => {
        const m = /portal on (http:\/\/\S+)/.exec(out)
        if (m) {
          clearInterval(poll)
          resolve(m[1] as string)
        }
      }, 200)
      child?.once('exit', (code) => {
        clearInterval(poll)
        reject(new Error(`a README command failed (exit ${code}):\n${out.slice(-4000)}`))
      })
    })
    const res = await fetch(`${url}/api/v1/openapi.json`)
    expect(res.status).toBe(200)
    const seconds = Math.round((Date.now() - t0) / 1000)
    console.log(`README commands on a fresh clone: admin serve answered after ${seconds} s`)

    // What the commands printed along the way.
    expect(out).toContain('✔ signed request') // pnpm demo
    const link = /(http:\/\/\S+\/login\?token=\S+)/.exec(out)?.[1] as string // admin login
    expect(link).toBeDefined()
    const signIn = await fetch(new URL(new URL(link).pathname + new URL(link).search, url), { redirect: 'manual' })
    expect(signIn.status).toBeLessThan(400)
    expect(out).toMatch(/sigil_sk_/) // keys create printed its token
    expect(out.slice(out.indexOf('(check) same store'))).toMatch(/"principal": "acme"/)
    expect(out).toContain(`keys:     ${join(clone, '.sigil', 'keys.db')}`) // admin serve: one store, at the root

    // The bin was linked by the install that ran before the build, and the filtered form of the
    // command (which pnpm runs in packages/cli) sees the same store.
    expect(existsSync(join(clone, 'node_modules', '.bin', 'sigil'))).toBe(true)
    process.kill(-(child.pid as number), 'SIGTERM')
    await new Promise((r) => child?.once('exit', r))
  })
})
