// Presigned URLs in a real browser (headless Chromium): a page on another origin shows an <img>
// and fetch()es a file through links the file server handed out, and an edited link fails.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch } from '@sigil/client'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_PARTNER } from '../../examples/demo-keys/src/demo-keys.js'
import { createApp } from '../../examples/presigned-files/src/app.js'
import { CHROMIUM_ARGS, chromiumExecutablePath } from './chromium.js'

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

describe('presigned URLs in a browser', () => {
  let files: Server
  let pages: Server
  let filesOrigin: string
  let pageOrigin: string
  let browser: Browser
  let link: (ask: object) => Promise<string>
  let pageHtml = ''

  beforeAll(async () => {
    files = createApp().listen(0, '127.0.0.1')
    await new Promise((r) => files.once('listening', r))
    filesOrigin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`
    pages = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(pageHtml)
    }).listen(0, '127.0.0.1')
    await new Promise((r) => pages.once('listening', r))
    // `localhost` vs `127.0.0.1`: another origin than the file server's.
    pageOrigin = `http://localhost:${(pages.address() as AddressInfo).port}`
    const api = createSignedFetch(DEMO_PARTNER)
    link = async (ask) => {
      const res = await api(`${filesOrigin}/v1/links`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ask),
      })
      return ((await res.json()) as { url: string }).url
    }
    const up = await link({ name: 'dot.png', method: 'PUT', maxBytes: PNG.length })
    expect((await fetch(up, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: PNG })).status).toBe(201)
    browser = await chromium.launch({ executablePath: await chromiumExecutablePath(), args: CHROMIUM_ARGS })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await new Promise<void>((r) => files.close(() => r()))
    await new Promise<void>((r) => pages.close(() => r()))
  })

  it('loads an <img> and fetch()es a file from another origin, and refuses an edited link', async () => {
    const good = await link({ name: 'dot.png' })
    const edited = good.replace('/files/dot.png', '/files/dog.png')
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;')
    pageHtml = `<!doctype html><meta charset="utf-8"><title>links</title>
<img id="good" src="${esc(good)}"><img id="edited" src="${esc(edited)}">`
    const page = await browser.newPage()
    await page.goto(pageOrigin)
    const sizes = await page.evaluate(async () => {
      const wait = (img: HTMLImageElement) =>
        img.complete
          ? Promise.resolve()
          : new Promise((r) => {
              img.addEventListener('load', r, { once: true })
              img.addEventListener('error', r, { once: true })
            })
      const g = document.getElementById('good') as HTMLImageElement
      const e = document.getElementById('edited') as HTMLImageElement
      await Promise.all([wait(g), wait(e)])
      return [g.naturalWidth, e.naturalWidth]
    })
    expect(sizes).toEqual([1, 0])
    const fetched = await page.evaluate(
      async ([g, e]) => {
        const a = await fetch(g as string)
        const b = await fetch(e as string)
        return [a.status, (await a.arrayBuffer()).byteLength, b.status, ((await b.json()) as { code: string }).code]
      },
      [good, edited],
    )
    expect(fetched).toEqual([200, PNG.length, 401, 'SIGNATURE_INVALID'])
    await page.close()
  })

  it('opens a download link in the address bar', async () => {
    const page = await browser.newPage()
    const res = await page.goto(await link({ name: 'dot.png' }))
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-type']).toBe('image/png')
    await page.close()
  })
})
