// docs/spec.md is the project's spec. Code, tests and docs cite it as `SPEC §N` / `SPEC §N.M`
// (or `docs/spec.md §N`): every citation must name a section (and step) that exists, and the
// error table must agree with packages/core/src/errors.ts, so the two cannot drift apart.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ERROR_STATUS } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const spec = readFileSync(join(root, 'docs', 'spec.md'), 'utf8')

/** Section number → the numbers of the steps of its numbered list(s). */
function sections(): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>()
  let current: Set<number> | undefined
  for (const line of spec.split('\n')) {
    const heading = /^## (\d+)\. /.exec(line)
    if (heading) {
      current = new Set()
      out.set(Number(heading[1]), current)
      continue
    }
    const step = /^(\d+)\. /.exec(line)
    if (step && current) current.add(Number(step[1]))
  }
  return out
}

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else if (/\.(?:ts|md|json|py|js|mjs|cjs)$/.test(name) && path !== join(root, 'docs', 'spec.md')) yield path
  }
}

const CITATION = /(?:SPEC|docs\/spec\.md)\s*§(\d+)(?:\.(\d+))?/g

describe('docs/spec.md', () => {
  const known = sections()

  it('has its numbered sections', () => {
    expect([...known.keys()]).toEqual([...Array(known.size).keys()].map((i) => i + 1))
    expect(known.get(2)?.size).toBeGreaterThanOrEqual(9)
  })

  it('every SPEC §N(.M) citation in code, tests and docs names a section that exists', () => {
    const bad: string[] = []
    let count = 0
    for (const dir of ['packages', 'test', 'examples', 'docs', 'README.md', 'CHANGELOG.md', 'SECURITY.md', 'CONTRIBUTING.md']) {
      const path = join(root, dir)
      let paths: Iterable<string>
      try {
        paths = statSync(path).isDirectory() ? files(path) : [path]
      } catch {
        continue
      }
      for (const file of paths) {
        for (const m of readFileSync(file, 'utf8').matchAll(CITATION)) {
          count++
          const steps = known.get(Number(m[1]))
          if (!steps || (m[2] !== undefined && !steps.has(Number(m[2])))) bad.push(`${relative(root, file)}: ${m[0]}`)
        }
      }
    }
    expect(count).toBeGreaterThan(30)
    expect(bad).toEqual([])
  })

  it('no longer points outside the repository for the spec', () => {
    const bad: string[] = []
    for (const file of files(root)) {
      if (file.includes(`${join(root, 'test', 'docs')}`)) continue
      if (/shared\/SPEC\.md/.test(readFileSync(file, 'utf8'))) bad.push(relative(root, file))
    }
    expect(bad).toEqual([])
  })

  it("§3's error table agrees with ERROR_STATUS, and every error code is documented", () => {
    const table = [...spec.matchAll(/^\| (`[A-Z_]+`(?: \/ `[A-Z_]+`)*) \| (\d{3}) \|/gm)]
    expect(table.length).toBeGreaterThan(10)
    const codes = ERROR_STATUS as Record<string, number>
    for (const [, names, status] of table) {
      for (const name of names!.matchAll(/`([A-Z_]+)`/g)) expect([name[1], codes[name[1]!]]).toEqual([name[1], Number(status)])
    }
    const undocumented = Object.keys(codes).filter((code) => !spec.includes(`\`${code}\``))
    expect(undocumented).toEqual([])
  })
})
