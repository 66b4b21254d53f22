import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ConfigurationError, isKeyId, parseToken } from '@sigil/core'
import { createVerifier } from '@sigil/server'
import { sendProblem, verifyNodeRequest } from '@sigil/server/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestKey, signTestRequest } from './testing.js'

describe('createTestKey', () => {
  it('makes a valid key id, a 32-byte secret and a token that parses back to both', () => {
    const a = createTestKey()
    const b = createTestKey()
    expect(isKeyId(a.keyId)).toBe(true)
    expect(a.keyId).not.toBe(b.keyId)
    expect(a.secret).toHaveLength(32)
    expect(Buffer.from(a.secret).equals(Buffer.from(b.secret))).toBe(false)
    const parsed = parseToken(a.token)
    expect(parsed.keyId).toBe(a.keyId)
    expect(Buffer.from(parsed.secret).equals(Buffer.from(a.secret))).toBe(true)
    expect(a.keys).toEqual({ [a.keyId]: a.secret })
  })

  it('takes a key id that follows the rule and refuses one that does not, naming the rule', () => {
    expect(createTestKey({ keyId: 'kPartner01' }).keyId).toBe('kPartner01')
    for (const keyId of ['k_partner_1', 'short', '', 'x'.repeat(65), 'kPartner01!']) {
      expect(() => createTestKey({ keyId })).toThrow(ConfigurationError)
      expect(() => createTestKey({ keyId })).toThrow(/8-64 ASCII letters and digits/)
    }
  })
})

describe('signTestRequest, against a verifying node:http server on 127.0.0.1', () => {
  const key = createTestKey()
  let server: Server
  let origin: string

  beforeAll(async () => {
    const verifier = createVerifier({ keys: key.keys })
    server = createServer(async (req, res) => {
      try {
        const { principal, body } = await verifyNodeRequest(req, verifier)
        res.end(JSON.stringify({ principal, bytes: body?.byteLength ?? 0 }))
      } catch (error) {
        sendProblem(res, error)
      }
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  const codeOf = async (res: Response) => (res.ok ? res.status : ((await res.json()) as { code: string }).code)

  it('signs url + init in one call; the server accepts it once, then NONCE_REPLAYED', async () => {
    const signed = await signTestRequest(key, `${origin}/v1/orders`, { method: 'POST', body: '{"sku":"A-1"}' })
    const res = await fetch(signed.clone())
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ principal: key.keyId, bytes: 13 })
    expect(await codeOf(await fetch(signed))).toBe('NONCE_REPLAYED')
  })

  it('signs a Request, and signs with the token alone', async () => {
    const viaRequest = await signTestRequest(key, new Request(`${origin}/v1/orders/7`, { method: 'DELETE' }))
    expect((await fetch(viaRequest)).status).toBe(200)
    const viaToken = await signTestRequest({ token: key.token }, `${origin}/v1/orders`)
    expect((await fetch(viaToken)).status).toBe(200)
  })

  it('a body swapped after signing is DIGEST_MISMATCH; another key is KEY_UNKNOWN; unsigned is SIGNATURE_MISSING', async () => {
    const signed = await signTestRequest(key, `${origin}/v1/orders`, { method: 'POST', body: '{"sku":"A-1"}' })
    expect(await codeOf(await fetch(new Request(signed.url, { method: 'POST', headers: signed.headers, body: '{"sku":"B-2"}' })))).toBe(
      'DIGEST_MISMATCH',
    )
    expect(await codeOf(await fetch(await signTestRequest(createTestKey(), `${origin}/v1/orders`)))).toBe('KEY_UNKNOWN')
    expect(await codeOf(await fetch(`${origin}/v1/orders`))).toBe('SIGNATURE_MISSING')
  })
})
