// Issue 28 item 4: a browser uploads through a presigned PUT link to another origin (headless
// Chromium). A page on 127.0.0.1:A fetch()es PUT with a File to a link on 127.0.0.1:B; the
// browser preflights it (OPTIONS, which carries no signature and is answered by the `cors`
// middleware before verification), then sends the PUT with headers of its own (Origin, Referer,
// User-Agent, Sec-Fetch-*, Accept…), none covered by the signature, which verifies. The file is
// stored; a page on an origin not allowed gets no answer and stores nothing; an edited link and
// an oversized file are refused with answers the page can read; a single-use link is not spent
// by its preflight.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch } from '@sigil/client'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_PARTNER } from '../../examples/demo-keys/src/demo-keys.js'
import { createApp } from '../../examples/presigned-files/src/app.js'
import { CHROMIUM_ARGS, chromiumExecutablePath } from './chromium.js'

const listen = async (s: Server) => {
  s.listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`
}
const page = () =>
  createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><meta charset="utf-8"><title>upload</title><p>uploader</p>')
  })

describe('a browser uploads through a presigned PUT link to another origin', () => {
  let files: Server
  let allowed: Server
  let stranger: Server
  let filesOrigin: string
  let allowedOrigin: string
  let strangerOrigin: string
  let browser: Browser
  let link: (ask: object) => Promise<string>
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = []

  beforeAll(async () => {
    allowed = page()
    stranger = page()
    allowedOrigin = await listen(allowed)
    strangerOrigin = await listen(stranger)
    files = createApp({ origins: [allowedOrigin] })
    // Record what reaches the file server (a second listener only reads).
    files.on('request', (req) => seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers }))
    filesOrigin = await listen(files)
    const api = createSignedFetch(DEMO_PARTNER)
    link = async (ask) => {
      const res = await api(`${filesOrigin}/v1/links`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ask),
      })
      return ((await res.json()) as { url: string }).url
    }
    browser = await chromium.launch({ executablePath: await chromiumExecutablePath(), args: CHROMIUM_ARGS })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    for (const s of [files, allowed, stranger]) await new Promise<void>((r) => (s ? s.close(() => r()) : r()))
  })

  /** From a page on `origin`: PUT a File of `size` bytes to `url`; the status and body, or the fetch error. */
  async function upload(origin: string, url: string, size: number) {
    const p = await browser.newPage()
    try {
      await p.goto(origin)
      return await p.evaluate(
        async ([u, n]) => {
          const bytes = new Uint8Array(n as number).map((_, i) => (i * 7) % 251)
          const file = new File([bytes], 'report.bin', { type: 'application/octet-stream' })
          try {
            const res = await fetch(u as string, { method: 'PUT', headers: { 'content-type': file.type }, body: file })
            return { status: res.status, body: (await res.json()) as Record<string, unknown> }
          } catch (e) {
            return { error: String(e) }
          }
        },
        [url, size],
      )
    } finally {
      await p.close()
    }
  }

  it('preflights, uploads and stores the file; the signature ignores what the browser adds', async () => {
    const up = await link({ name: 'report.bin', method: 'PUT', maxBytes: 4096, once: true })
    seen.length = 0
    expect(await upload(allowedOrigin, up, 3000)).toEqual({ status: 201, body: { name: 'report.bin', bytes: 3000 } })
    // The preflight, then the PUT, both with the page's Origin.
    const preflight = seen.find((r) => r.method === 'OPTIONS')
    const put = seen.find((r) => r.method === 'PUT')
    expect(preflight?.headers['access-control-request-method']).toBe('PUT')
    expect(preflight?.headers.origin).toBe(allowedOrigin)
    expect(put?.headers.origin).toBe(allowedOrigin)
    // Headers the signature does not cover and Node's fetch would not have sent.
    expect(put?.headers['sec-fetch-mode']).toBe('cors')
    expect(put?.headers['user-agent']).toMatch(/Chrome/)
    // Stored: read back through a download link, byte for byte.
    const got = new Uint8Array(await (await fetch(await link({ name: 'report.bin' }))).arrayBuffer())
    expect(got).toEqual(new Uint8Array(3000).map((_, i) => (i * 7) % 251))
    // Single use: the preflight did not spend it, the upload did.
    expect((await upload(allowedOrigin, up, 10)).status).toBe(401)
  })

  it('answers the preflight with the origin, method and header it allows, and no credentials', async () => {
    const up = await link({ name: 'x.bin', method: 'PUT', maxBytes: 10 })
    const res = await fetch(up, {
      method: 'OPTIONS',
      headers: { origin: allowedOrigin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(allowedOrigin)
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toContain('PUT')
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type')
    expect(res.headers.get('access-control-allow-credentials')).toBeNull()
    expect(res.headers.get('vary')).toMatch(/Origin/i)
    const other = await fetch(up, { method: 'OPTIONS', headers: { origin: strangerOrigin, 'access-control-request-method': 'PUT' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('refuses a page on another origin, an edited link and an oversized file', async () => {
    const up = await link({ name: 'stranger.bin', method: 'PUT', maxBytes: 100 })
    seen.length = 0
    expect(await upload(strangerOrigin, up, 10)).toEqual({ error: expect.stringMatching(/Failed to fetch/) })
    // The preflight failed: the PUT was never sent, nothing stored.
    expect(seen.map((r) => r.method)).toEqual(['OPTIONS'])
    expect((await fetch(await link({ name: 'stranger.bin' }))).status).toBe(404)
    const edited = up.replace('/files/stranger.bin', '/files/other.bin')
    expect(await upload(allowedOrigin, edited, 10)).toEqual({ status: 401, body: expect.objectContaining({ code: 'SIGNATURE_INVALID' }) })
    expect(await upload(allowedOrigin, up, 101)).toEqual({ status: 413, body: expect.objectContaining({ code: 'BODY_TOO_LARGE' }) })
    expect((await upload(allowedOrigin, up, 100)).status).toBe(201)
  })
})
