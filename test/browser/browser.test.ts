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

  // Off Node there is no streaming hash (issue 26 item 6 keeps a JavaScript SHA-2 out of the
  // bundle): a Blob is read whole, a factory buffered up to 64 MiB, and both digested by WebCrypto.
  it('createSignedFetch digests Blob and factory bodies with WebCrypto; the digest covers the bytes sent', async () => {
    const page = await browser.newPage()
    await page.goto(`${origin}/`)
    await page.waitForFunction('window.sigilResult !== undefined', undefined, { timeout: 15_000 })
    const result = await page.evaluate(`(async () => {
      const m = await import('/sigil.js')
      const secret = crypto.getRandomValues(new Uint8Array(32))
      const verifyOptions = { keys: { kBrowserKey01: secret } }
      const sent = []
      const fetch = async (url, init) => {
        const bytes = new Uint8Array(await new Response(init.body).arrayBuffer())
        sent.push(new Request(url, { method: init.method, headers: init.headers, body: bytes }))
        return new Response('ok')
      }
      const api = m.createSignedFetch({ keyId: 'kBrowserKey01', secret, fetch, digestAlgorithm: 'sha-512' })
      const data = new Uint8Array(300000).map((_, k) => (k * 7919) % 251)
      await api('https://api.example.com/up', { method: 'PUT', body: new Blob([data]) })
      await api('https://api.example.com/up', { method: 'PUT', body: () => new Blob([data]).stream() })
      const verdicts = []
      for (const req of sent) {
        const v = await m.verify(req, verifyOptions).catch((e) => ({ code: e.code }))
        verdicts.push(v.code ?? v.body.byteLength)
      }
      const chunk = new Uint8Array(1 << 20)
      const big = async function* () { for (let k = 0; k < 65; k++) yield chunk }
      const tooBig = await api('https://api.example.com/up', { method: 'PUT', body: big }).then(() => 'sent', (e) => e.code + ' ' + e.name)
      return { verdicts, tooBig, sentAfterTooBig: sent.length }
    })()`)
    expect(result).toEqual({ verdicts: [300000, 300000], tooBig: 'CONFIGURATION_INVALID ConfigurationError', sentAfterTooBig: 2 })
    await page.close()
  })

  it('encrypts bodies both ways on WebCrypto alone (SPEC §8): bytes, Blob and factory requests, an encrypted answer', async () => {
    const page = await browser.newPage()
    await page.goto(`${origin}/`)
    await page.waitForFunction('window.sigilResult !== undefined', undefined, { timeout: 15_000 })
    const result = await page.evaluate(`(async () => {
      const m = await import('/sigil.js')
      const secret = crypto.getRandomValues(new Uint8Array(32))
      const verifyOptions = { keys: { kBrowserKey01: secret }, encryptedBodies: 'required' }
      const data = new Uint8Array(100000).map((_, k) => (k * 7919) % 251)
      const out = []
      const fetch = async (url, init) => {
        const bytes = new Uint8Array(await new Response(init.body).arrayBuffer())
        const req = new Request(url, { method: init.method, headers: init.headers, body: bytes })
        const v = await m.verify(req.clone(), verifyOptions)
        out.push({ coding: req.headers.get('content-encoding'), plain: v.body.byteLength, same: v.body.every((b, k) => b === data[k]) })
        return m.signResponse(new Response('answer:' + v.body.byteLength), v, req, { verifier: verifyOptions, encryptResponses: true })
      }
      const api = m.createSignedFetch({ keyId: 'kBrowserKey01', secret, fetch, encryptBody: m.bodyEncryption() })
      const answers = []
      for (const body of [data, new Blob([data]), () => new Blob([data]).stream()]) {
        const res = await api('https://api.example.com/up', { method: 'PUT', body })
        answers.push(await res.text())
      }
      const plain = m.createSignedFetch({ keyId: 'kBrowserKey01', secret, fetch })
      const refused = await plain('https://api.example.com/up', { method: 'PUT', body: 'x' }).then(() => 'sent', (e) => e.code)
      return { out, answers, refused }
    })()`)
    const one = { coding: 'aes128gcm', plain: 100000, same: true }
    expect(result).toEqual({
      out: [one, one, one],
      answers: ['answer:100000', 'answer:100000', 'answer:100000'],
      refused: 'ENCRYPTION_REQUIRED',
    })
    await page.close()
  })
})
