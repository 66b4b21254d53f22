import { describe, expect, it } from 'vitest'
import type { CliIo } from './io.js'
import { progress } from './progress.js'

function io(isTTY: boolean, clock: { t: number }) {
  const err: string[] = []
  const cli: CliIo = {
    stdout: { write: () => {} },
    stderr: Object.assign({ write: (s: string) => err.push(s) }, isTTY ? { isTTY: true } : {}),
    env: {},
    cwd: '/',
    now: () => clock.t,
  }
  return { cli, err }
}

describe('progress on stderr', () => {
  it('a TTY gets one bar redrawn in place, then a newline', () => {
    const clock = { t: 0 }
    const { cli, err } = io(true, clock)
    const p = progress({ io: cli, json: false }, 're-encrypting')
    for (const done of [0, 500, 1000]) {
      clock.t += 1000
      p.update(done, 1000)
    }
    p.done()
    expect(err.slice(0, 3).every((l) => l.startsWith('\r') && !l.includes('\n'))).toBe(true)
    expect(err[1]).toContain('50% 500/1000')
    expect(err[2]).toContain(`[${'#'.repeat(30)}] 100% 1000/1000`)
    expect(err.at(-1)).toBe('\n')
  })

  it('--json: one JSON line per update, even on a TTY', () => {
    const { cli, err } = io(true, { t: 0 })
    const p = progress({ io: cli, json: true }, 'importing')
    p.update(3, 7)
    p.update(4)
    p.done()
    expect(err).toEqual([
      `${JSON.stringify({ progress: 'importing', done: 3, total: 7 })}\n`,
      `${JSON.stringify({ progress: 'importing', done: 4 })}\n`,
    ])
  })

  it('a log (no TTY) gets a plain line at most every 2 s, and the last one', () => {
    const clock = { t: 0 }
    const { cli, err } = io(false, clock)
    const p = progress({ io: cli, json: false }, 'exporting')
    for (let i = 1; i <= 10; i++) {
      clock.t += 500
      p.update(i * 100, 1000)
    }
    p.done()
    expect(err).toEqual([
      'exporting: 100/1000 (10%)\n',
      'exporting: 500/1000 (50%)\n',
      'exporting: 900/1000 (90%)\n',
      'exporting: 1000/1000 (100%)\n',
    ])
  })
})
