// Release hygiene that a publish would otherwise get wrong silently: every package ships the
// LICENSE its package.json names, engines agree, .nvmrc is a Node that engines allows, and
// changesets version the packages together.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (...p: string[]) => readFileSync(join(root, ...p), 'utf8')
const rootPkg = JSON.parse(read('package.json')) as { engines: { node: string }; license: string }
const packages = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')))

describe('release hygiene', () => {
  it('every package is MIT, ships the root LICENSE and has the root engines', () => {
    expect(read('LICENSE')).toMatch(/^MIT License/)
    expect(rootPkg.license).toBe('MIT')
    for (const dir of packages) {
      const pkg = JSON.parse(read('packages', dir, 'package.json')) as { license: string; files: string[]; engines: { node: string } }
      expect([dir, pkg.license]).toEqual([dir, 'MIT'])
      expect([dir, pkg.files.includes('LICENSE')]).toEqual([dir, true])
      expect([dir, read('packages', dir, 'LICENSE')]).toEqual([dir, read('LICENSE')])
      expect([dir, pkg.engines.node]).toEqual([dir, rootPkg.engines.node])
    }
  })

  it('.nvmrc names a Node major that engines allows', () => {
    const major = Number(read('.nvmrc').trim().replace(/^v/, '').split('.')[0])
    const floor = Number(/^>=\s*(\d+)/.exec(rootPkg.engines.node)?.[1])
    expect(major).toBeGreaterThanOrEqual(floor)
  })

  it('changesets versions every @sigil package together and has an Unreleased changelog', () => {
    const config = JSON.parse(read('.changeset', 'config.json')) as { fixed: string[][]; baseBranch: string }
    expect(config.fixed).toEqual([['@sigil/*']])
    expect(config.baseBranch).toBe('main')
    expect(read('CHANGELOG.md')).toMatch(/^## Unreleased$/m)
    for (const file of ['SECURITY.md', 'CONTRIBUTING.md']) expect(existsSync(join(root, file))).toBe(true)
  })
})
