// Encrypted bodies end to end (SPEC §8): createSignedFetch with encryptBody against a real
// node:http server (withSigil, encryptedBodies, signResponses with encryptResponses), through
// Node's own fetch, which must hand the aes128gcm answer over undecoded for the digest to check.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch } from '@sigil/client'
import { bodyEncryption } from '@sigil/client/encrypted'
import { responseVerifier } from '@sigil/client/responses'
import { randomBytes } from '@sigil/core/internal'
import { createMemoryNonceStore } from '@sigil/server'
import { withSigil } from '@sigil/server/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const keyId = 'kE2eEnc01'
const secret = randomBytes(32)
let server: Server
let origin: string
let seenOnWire: string[] = []

beforeAll(async () => {
  const listener = withSigil(
    { keys: { [keyId]: secret }, nonceStore: createMemoryNonceStore(), encryptedBodies: 'required', maxBodyBytes: 8 << 20 },
    (req, res, verified) => {
      const body = Buffer.from(verified?.body ?? new Uint8Array(0))
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          encrypted: verified?.encrypted === true,
          contentEncoding: req.headers['content-encoding'] ?? null,
          length: body.length,
          sha256: createHash('sha256').update(body).digest('hex'),
          head: body.subarray(0, 16).toString(),
        }),
      )
    },
    { signResponses: { encryptResponses: true } },
  )
  server = createServer((req, res) => {
    seenOnWire.push(String(req.headers['content-encoding'] ?? ''))
    void listener(req, res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.close()
  await once(server, 'close')
})

describe('encrypted bodies end to end (SPEC §8)', () => {
  const api = createSignedFetch({ keyId, secret, encryptBody: bodyEncryption(), verifyResponses: responseVerifier() })

  it('a JSON body goes encrypted, the app reads plaintext, the answer comes back encrypted, checked and decrypted', async () => {
    seenOnWire = []
    const res = await api(`${origin}/v1/orders`, { method: 'POST', body: '{"sku":"A-1"}', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(200)
    expect(seenOnWire).toEqual(['aes128gcm'])
    const echo = await res.json()
    expect(echo).toMatchObject({ encrypted: true, contentEncoding: null, length: 13, head: '{"sku":"A-1"}' })
  })

  it('streams a 4 MiB body factory both ways', async () => {
    const chunk = new Uint8Array(256 * 1024).map((_, i) => (i * 7) & 0xff)
    const factory = () =>
      (async function* () {
        for (let i = 0; i < 16; i++) yield chunk
      })()
    const want = createHash('sha256')
    for (let i = 0; i < 16; i++) want.update(chunk)
    const res = await api(`${origin}/v1/upload`, { method: 'PUT', body: factory as unknown as BodyInit })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ encrypted: true, length: 16 * chunk.length, sha256: want.digest('hex') })
  })

  it('a plaintext body on the required route is 415 ENCRYPTION_REQUIRED', async () => {
    const plain = createSignedFetch({ keyId, secret })
    const res = await plain(`${origin}/v1/orders`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(415)
    expect(res.headers.get('accept-encoding')).toBe('aes128gcm')
    expect((await res.json()).code).toBe('ENCRYPTION_REQUIRED')
  })
})
