// @sigil/core, signRequest and verify() run unchanged in a real browser: bundle them for the
// browser with esbuild, serve the bundle from 127.0.0.1 (a secure context, so WebCrypto is there),
// and round-trip a signed request in headless Chromium (page.js runs in the page). No process.getBuiltinModule there, so this
// proves the WebCrypto / @noble/hashes fallback. Chromium comes with `pnpm install` (chromium.ts).
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM_ARGS, chromiumExecutablePath } from './chromium.js'

const here = dirname(fileURLToPath(import.meta.url))
describe('in a browser (headless Chromium)', () => {
  let dir: string
  let server: Server
  let origin: string
  let browser: Browser
  let bundle: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigil-browser-'))
    await build({
      entryPoints: [join(here, 'entry.ts')],
      outfile: join(dir, 'sigil.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      conditions: ['source'],
      logLevel: 'silent',
    })
    bundle = await readFile(join(dir, 'sigil.js'), 'utf8')
    const files: Record<string, [string, string]> = {
      '/': ['text/html', '<!doctype html><meta charset="utf-8"><title>sigil</title><script type="module" src="/page.js"></script>'],
      '/sigil.js': ['text/javascript', bundle],
      '/page.js': ['text/javascript', await readFile(join(here, 'page.js'), 'utf8')],
    }
    server = createServer((req, res) => {
      const file = files[req.url ?? '/']
      res.writeHead(file ? 200 : 404, { 'content-type': file?.[0] ?? 'text/plain' })
      res.end(file?.[1] ?? 'not found')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: await chromiumExecutablePath(), args: CHROMIUM_ARGS })
  }, 120_000) // the first run unpacks Chromium (~200 MB) from the package

  afterAll(async () => {
    await browser?.close()
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('bundles without any node: import', () => {
    // platform.ts names 'node:crypto' as a string for process.getBuiltinModule; no import may.
    expect(bundle).not.toMatch(/(?:\bfrom|\bimport|\brequire)\s*\(?\s*["']node:/)
  })

  it('signs and verifies a request in the page, and rejects a tampered one', async () => {
    const page = await browser.newPage()
    await page.goto(`${origin}/`)
    await page.waitForFunction('window.sigilResult !== undefined', undefined, { timeout: 15_000 })
    const result = (await page.evaluate('window.sigilResult')) as Record<string, unknown>
    expect(result.error).toBeUndefined()
    expect(result).toMatchObject({
      principal: 'kBrowserKey01',
      body: '{"sku":"A-1"}',
      replay: 'NONCE_REPLAYED',
      tamperedBody: 'DIGEST_MISMATCH',
      tamperedQuery: 'SIGNATURE_INVALID',
      webCrypto: true,
      hasNodeBuiltins: false,
    })
    expect(result.userAgent).toMatch(/Chrome/)
    await page.close()
  })
})
