// The README's client and server snippets are the typechecked files in examples/readme/src.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

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
})
