import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch } from '@sigil/client'
import { DEMO_PARTNER } from '@sigil-examples/demo-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.js'

describe('examples/presigned-files', () => {
  let server: Server
  let base: string
  beforeAll(async () => {
    server = createApp().listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))
  const api = createSignedFetch(DEMO_PARTNER)
  const link = async (ask: object) => {
    const res = await api(`${base}/v1/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask),
    })
    expect(res.status).toBe(201)
    return ((await res.json()) as { url: string }).url
  }

  it('uploads through a PUT link held to its size, then downloads with plain fetch (no key)', async () => {
    const up = await link({ name: 'hello.txt', method: 'PUT', maxBytes: 5 })
    const tooBig = await fetch(up, { method: 'PUT', body: 'hello!' })
    expect([tooBig.status, (await tooBig.json()).code]).toEqual([413, 'BODY_TOO_LARGE'])
    expect((await fetch(up, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hello' })).status).toBe(201)
    const down = await link({ name: 'hello.txt' })
    const got = await fetch(down)
    expect([got.status, await got.text(), got.headers.get('referrer-policy')]).toEqual([200, 'hello', 'no-referrer'])
    expect((await fetch(down, { method: 'HEAD' })).status).toBe(200)
  })

  it('refuses an edited link and an unsigned one', async () => {
    const down = await link({ name: 'hello.txt' })
    const edited = await fetch(down.replace('/files/hello.txt', '/files/other.txt'))
    expect([edited.status, (await edited.json()).code]).toEqual([401, 'SIGNATURE_INVALID'])
    const unsigned = await fetch(`${base}/files/hello.txt`)
    expect([unsigned.status, (await unsigned.json()).code]).toEqual([401, 'SIGNATURE_MISSING'])
  })
})
