// Issue 11 "Bodies have a deadline": a signed request whose body drips in slower than
// `bodyTimeoutMs` is answered 408 BODY_TIMEOUT on every adapter, and a client that closes the
// connection mid-body is recorded in usage as BODY_INCOMPLETE, not as a 500 INTERNAL_ERROR.
import { connect } from 'node:net'
import { createMemoryNonceStore, type UsageEvent } from '@sigil/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type Running, rawBytes, startApp } from './adapter-apps.js'
import { KEY_ID, NOW_S, SECRET, signSpec } from './harness.js'

const now = () => NOW_S * 1000
const body = JSON.stringify({ sku: 'A-1', note: 'x'.repeat(200) })

async function signedHeadAndBody(): Promise<{ head: Buffer; payload: Buffer }> {
  const w = await signSpec(
    {
      scheme: 'http',
      host: 'api.example.com',
      method: 'POST',
      target: '/v1/orders',
      headers: [['Content-Type', 'application/json']],
      body,
    },
    { signer: 'raw' },
  )
  const bytes = rawBytes(w, 'content-length')
  const split = bytes.indexOf('\r\n\r\n') + 4
  return { head: bytes.subarray(0, split), payload: bytes.subarray(split) }
}

/** Send the head and `sent` body bytes, one every `dripMs`; resolve with the status line's code. */
function drip(port: number, head: Buffer, payload: Buffer, sent: number, dripMs: number): Promise<{ status: number; code: string }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => {
      s.write(head)
      let i = 0
      const tick = setInterval(() => {
        if (i >= sent || s.destroyed) return clearInterval(tick)
        s.write(payload.subarray(i, i + 1))
        i++
      }, dripMs)
      s.on('close', () => clearInterval(tick))
    })
    s.on('data', (d) => {
      parts.push(d)
      const text = Buffer.concat(parts).toString()
      if (text.includes('\r\n\r\n') && text.includes('}')) {
        s.destroy()
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), code: /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '' })
      }
    })
    s.on('error', () => {})
    s.on('close', () => resolve({ status: 0, code: 'CONNECTION_CLOSED' }))
  })
}

describe.each(ADAPTERS)('%s', (name) => {
  let app: Running
  const events: UsageEvent[] = []
  beforeAll(async () => {
    app = await startApp(name, {
      options: {
        keys: { [KEY_ID]: SECRET },
        now,
        nonceStore: createMemoryNonceStore({ now }),
        bodyTimeoutMs: 400,
        usage: { record: (e: UsageEvent) => void events.push(e) },
      },
    })
  })
  afterAll(() => app.close())

  it('a slow-drip body is answered 408 BODY_TIMEOUT', async () => {
    const { head, payload } = await signedHeadAndBody()
    const t0 = Date.now()
    const a = await drip(app.port, head, payload, payload.byteLength - 1, 150)
    expect([a.status, a.code]).toEqual([408, 'BODY_TIMEOUT'])
    // Answered at the deadline, long before the drip would have ended (~37 s) or node's 300 s.
    expect(Date.now() - t0).toBeLessThan(15_000)
  })

  it('a client that closes mid-body is recorded as BODY_INCOMPLETE', async () => {
    const { head, payload } = await signedHeadAndBody()
    const before = events.length
    await new Promise<void>((resolve) => {
      const s = connect(app.port, '127.0.0.1', () => {
        s.write(head)
        s.write(payload.subarray(0, 10))
        setTimeout(() => {
          s.destroy()
          resolve()
        }, 100)
      })
      s.on('error', () => {})
    })
    for (let i = 0; i < 100 && events.length === before; i++) await new Promise((r) => setTimeout(r, 50))
    expect(events.slice(before).map((e) => e.outcome)).toEqual(['BODY_INCOMPLETE'])
  })
})
