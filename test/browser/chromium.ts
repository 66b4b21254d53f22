// The Chromium that test/browser drives comes with `pnpm install`: @sparticuz/chromium ships a
// headless Chromium build inside the registry package (brotli-packed, no download at install
// time, no system browser). It unpacks into `tmpdir()` on first use; to keep concurrent test runs
// and other versions from seeing a half-written binary, unpack into a private directory and
// rename it into place under a versioned name.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import chromium from '@sparticuz/chromium'

/** Flags for a root user on a machine with a closed network (see README "Tests"). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

async function packageVersion(): Promise<string> {
  // build/{esm,cjs}/index.* -> the package root (its exports do not include package.json).
  const root = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', '..')
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string }
  if (pkg.name !== '@sparticuz/chromium') throw new Error('@sparticuz/chromium: package.json not found')
  return pkg.version
}

/** Path of the Chromium binary shipped in @sparticuz/chromium, unpacked once per version. */
export async function chromiumExecutablePath(): Promise<string> {
  const base = process.env.TMPDIR ?? tmpdir()
  const target = join(base, `sigil-chromium-${await packageVersion()}`)
  const binary = join(target, 'chromium')
  if (existsSync(binary)) return binary
  const scratch = await mkdtemp(join(base, 'sigil-chromium-unpack-'))
  const saved = process.env.TMPDIR
  process.env.TMPDIR = scratch // @sparticuz/chromium unpacks into os.tmpdir()
  try {
    await chromium.executablePath()
  } finally {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
  }
  try {
    await rename(scratch, target)
  } catch (error) {
    // Another run renamed its copy into place first: use that one.
    await rm(scratch, { recursive: true, force: true })
    if (!existsSync(binary)) throw error
  }
  return binary
}
