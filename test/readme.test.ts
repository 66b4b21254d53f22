// The README's client and server snippets are the typechecked files in examples/readme/src.
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { commandOf, NOT_RUN, README_COMMAND_SECTIONS, shellLines } from './fresh-clone/readme-commands.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])

describe('README snippets', () => {
  for (const file of ['client.ts', 'server.ts']) {
    it(`${file} in the README is examples/readme/src/${file}`, () => {
      const source = readFileSync(new URL(`../examples/readme/src/${file}`, import.meta.url), 'utf8')
      expect(blocks).toContain(source)
    })
  }
  it('names the test command that .ci/run calls', () => {
    expect(readme).toContain('pnpm test')
    expect(readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')).toContain('pnpm test')
  })

  // The commands themselves run on a fresh clone in pnpm test:fresh-clone (minutes: .ci/run).
  it("has its commands run in order on a fresh clone by .ci/run, none skipped but the test suite's own", () => {
    const lines = README_COMMAND_SECTIONS.flatMap((s) => shellLines(readme, s)).map(commandOf)
    expect(lines.at(-1)).toBe('pnpm exec sigil admin serve')
    expect(lines.filter((l) => l in NOT_RUN)).toEqual(['pnpm test'])
    expect(readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')).toContain('pnpm test:fresh-clone')
  })

  it('names a sigil bin that exists before pnpm build, so the install that precedes the build links it', () => {
    const pkg = JSON.parse(readFileSync(new URL('../packages/cli/package.json', import.meta.url), 'utf8'))
    expect(pkg.bin.sigil).not.toMatch(/dist\//)
    expect(existsSync(new URL(`../packages/cli/${pkg.bin.sigil}`, import.meta.url))).toBe(true)
    expect(pkg.files).toContain(pkg.bin.sigil.replace(/^\.\//, '').split('/')[0])
  })
})
