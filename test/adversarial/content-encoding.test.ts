// Issue 23 item 10: a signed body with a Content-Encoding is never a 5xx. The digest covers the
// bytes as sent (RFC 9530: the coded content), so an adapter that reads the wire bytes verifies
// them and the app's parsers decode them afterwards; where a parser decoded them before sigil()
// (Express with sigilRawBody()), the signed bytes are gone and the answer is 415
// CONTENT_ENCODING_UNSUPPORTED, not 500 INTERNAL_ERROR. Body-parser failures (a coding the parser
// does not know, bytes that do not inflate, JSON that does not parse) stay the parser's 4xx.
// Every adapter, real sockets.
import { request as httpRequest } from 'node:http'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { signRequest } from '@sigil/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expressHarness, fastifyHarness } from '../adapters/apps.js'
import { AUTHORITY, baseOptions, keyId, secret, type Transport } from '../adapters/fixtures.js'
import { ADAPTERS, type Running, startApp } from './adapter-apps.js'
import { KEY_ID, SECRET } from './harness.js'

const JSON_TEXT = '{"sku":"A-1","qty":2}'
const plain = Buffer.from(JSON_TEXT)
const BODIES: Record<string, { coding: string; bytes: Buffer }> = {
  gzip: { coding: 'gzip', bytes: gzipSync(plain) },
  deflate: { coding: 'deflate', bytes: deflateSync(plain) },
  br: { coding: 'br', bytes: brotliCompressSync(plain) },
  'GZIP (letter case)': { coding: 'GZIP', bytes: gzipSync(plain) },
  'gzip, identity (a list)': { coding: 'gzip, identity', bytes: gzipSync(plain) },
  'an unknown coding': { coding: 'x-sigil-test', bytes: plain },
  'gzip that does not inflate': { coding: 'gzip', bytes: Buffer.from('not gzip at all, just bytes') },
}

interface Answer {
  status: number
  code: string | undefined
  headers: Record<string, string | string[] | undefined>
}

async function signedCoded(host: string, key: { id: string; secret: Uint8Array }, coding: string | null, bytes: Buffer, target: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (coding !== null) headers['content-encoding'] = coding
  const signed = await signRequest(new Request(`http://${host}${target}`, { method: 'POST', headers, body: new Uint8Array(bytes) }), {
    keyId: key.id,
    secret: key.secret,
  })
  const out: Record<string, string> = { host, 'content-length': String(bytes.byteLength) }
  signed.headers.forEach((v, k) => {
    out[k] = v
  })
  return out
}

function post(port: number, target: string, headers: Record<string, string>, bytes: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: target, headers, agent: false, setHost: false })
    req.on('error', reject)
    req.on('response', (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString()
        resolve({ status: res.statusCode ?? 0, code: /"code":"([A-Z_]+)"/.exec(text)?.[1], headers: res.headers })
      })
    })
    req.end(bytes)
  })
}

describe.each(ADAPTERS)('%s: a signed coded body is verified over the bytes sent, never a 5xx', (name) => {
  let app: Running
  beforeAll(async () => {
    app = await startApp(name, { options: { keys: { [KEY_ID]: SECRET } } })
  })
  afterAll(() => app.close())
  for (const [label, { coding, bytes }] of Object.entries(BODIES)) {
    it(label, async () => {
      const headers = await signedCoded('api.example.com', { id: KEY_ID, secret: SECRET }, coding, bytes, '/v1/upload')
      const a = await post(app.port, '/v1/upload', headers, bytes)
      expect(a.status).toBeLessThan(500)
      // These apps read the bytes as sent (express.raw() there inflates what it can; a coding
      // it does not know, or bytes that do not inflate, are its own 415/400).
      if (!name.startsWith('express')) expect(a.status).toBe(200)
      else expect([200, 400, 415]).toContain(a.status)
    })
  }
})

describe.each([4, 5] as const)('express %i with its parsers', (major) => {
  let first: Transport
  let after: Transport
  beforeAll(async () => {
    // Parsers first, keeping the bytes for sigil() with sigilRawBody() (the bytes they keep are decoded).
    first = await expressHarness(major, 'after').start(baseOptions(), 'listen')
    // sigil() first, the parsers after it (the recommended order).
    after = await expressHarness(major, 'before').start(baseOptions(), 'listen')
  })
  afterAll(async () => {
    await first.close()
    await after.close()
  })
  const send = async (t: Transport, coding: string | null, bytes: Buffer) =>
    post(t.port as number, '/v1/orders', await signedCoded(AUTHORITY, { id: keyId, secret }, coding, bytes, '/v1/orders'), bytes)

  for (const label of ['gzip', 'deflate', 'GZIP (letter case)']) {
    const { coding, bytes } = BODIES[label] as { coding: string; bytes: Buffer }
    it(`${label} decoded by a parser before sigil() (sigilRawBody): 415 CONTENT_ENCODING_UNSUPPORTED, not 500`, async () => {
      const a = await send(first, coding, bytes)
      expect([a.status, a.code]).toEqual([415, 'CONTENT_ENCODING_UNSUPPORTED'])
      // RFC 7694: say which codings the resource takes.
      expect(a.headers['accept-encoding']).toBe('identity')
    })
    it(`${label} with sigil() before the parsers: verified over the coded bytes, then decoded by the parser`, async () => {
      const a = await send(after, coding, bytes)
      expect([a.status, a.code]).toEqual([200, undefined])
    })
  }
  it('an identity body still passes with sigilRawBody()', async () => {
    expect((await send(first, null, plain)).status).toBe(200)
    expect((await send(first, 'identity', plain)).status).toBe(200)
  })
  // br (body-parser 2 decodes it, 1 does not), a list of codings, one it does not know, bytes that
  // do not inflate: the parser's own 415/400 when it refuses, ours when it decoded before sigil().
  for (const label of ['br', 'gzip, identity (a list)', 'an unknown coding', 'gzip that does not inflate']) {
    const { coding, bytes } = BODIES[label] as { coding: string; bytes: Buffer }
    it(`${label}: parsers first, a 4xx (the parser's own, or ours); sigil() first, never a 5xx`, async () => {
      const a = await send(first, coding, bytes)
      expect(a.status).toBeGreaterThanOrEqual(400)
      expect(a.status).toBeLessThan(500)
      // Verified over the bytes sent; then the parser decodes (br on body-parser 2: 200) or refuses.
      expect((await send(after, coding, bytes)).status).toBeLessThan(500)
    })
  }
  it('JSON that does not parse is the parser 400 in either order', async () => {
    const bad = Buffer.from('{"sku":')
    for (const t of [first, after]) expect((await send(t, null, bad)).status).toBe(400)
  })
})

describe('fastify with its own JSON parser', () => {
  let t: Transport
  beforeAll(async () => {
    t = await fastifyHarness.start(baseOptions(), 'listen')
  })
  afterAll(() => t.close())
  for (const [label, { coding, bytes }] of Object.entries(BODIES)) {
    it(`${label}: verified over the bytes sent; the parser (which decodes no coding) answers as it does`, async () => {
      const a = await post(
        t.port as number,
        '/v1/orders',
        await signedCoded(AUTHORITY, { id: keyId, secret }, coding, bytes, '/v1/orders'),
        bytes,
      )
      expect(a.status).toBeLessThan(500)
      // Coded bytes are not JSON to it (400); the unknown coding's bytes are plain JSON.
      expect(a.status).toBe(label === 'an unknown coding' ? 200 : 400)
    })
  }
})
