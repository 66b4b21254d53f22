import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { CliIo } from './io.js'
import { storeLocation } from './open-store.js'

// One store whichever way the README's `sigil` is run (issue 28): `pnpm exec sigil` at the root,
// and `pnpm --filter @sigil/cli exec sigil`, which pnpm runs in packages/cli without INIT_CWD.
const root = mkdtempSync(join(tmpdir(), 'sigil-ws-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
writeFileSync(join(root, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n')
const pkg = join(root, 'packages', 'cli')
mkdirSync(pkg, { recursive: true })
const io = (cwd: string, env: Record<string, string> = {}): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env, cwd })

describe('storeLocation', () => {
  it('resolves against the working directory', () => {
    expect(storeLocation({}, io(root))).toEqual({ kind: 'sqlite', path: join(root, '.sigil', 'keys.db') })
    expect(storeLocation({}, io(pkg))).toEqual({ kind: 'sqlite', path: join(pkg, '.sigil', 'keys.db') })
    expect(storeLocation({}, io(pkg, { PNPM_PACKAGE_NAME: '@acme/api' }))).toEqual({ kind: 'sqlite', path: join(pkg, '.sigil', 'keys.db') })
  })

  it('resolves against the workspace root when pnpm runs it inside @sigil/cli', () => {
    const filtered = io(pkg, { PNPM_PACKAGE_NAME: '@sigil/cli' })
    expect(storeLocation({}, filtered)).toEqual({ kind: 'sqlite', path: join(root, '.sigil', 'keys.db') })
    expect(storeLocation({ store: 'k.db' }, filtered)).toEqual({ kind: 'sqlite', path: join(root, 'k.db') })
    expect(storeLocation({ store: '/abs/k.db' }, filtered)).toEqual({ kind: 'sqlite', path: '/abs/k.db' })
  })
})
