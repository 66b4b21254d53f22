// Test keys from the partner's side (SPEC §4): a request signed with a test key that fails is
// explained in the problem body (the server's signature base, where @authority came from, whether
// the body matched its digest); a live key's failure, an unknown key id and a revoked test key in
// opaque mode get no explanation. The requests are the Python recipe's, as sent on the wire.
import { generateKey } from '@sigil/keys'
import type { TestKeyExplanation } from '@sigil/server'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  bodyFile,
  type Echo,
  type Forwarded,
  header,
  type Listening,
  recipeCommand,
  runRecipe,
  send,
  setHeader,
  startRecorder,
  startSigilServer,
} from './harness.js'

vi.setConfig({ testTimeout: 60_000 })

const testKey = generateKey({ principal: 'partner-acme', test: true })
const liveKey = generateKey({ principal: 'partner-acme' })
const revokedTestKey = generateKey({ principal: 'partner-acme', test: true })
revokedTestKey.record.status = 'revoked'
const KEYS = [testKey.record, liveKey.record, revokedTestKey.record]
const BODY = '{"sku":"A-1","qty":2}'
const allFresh = { checkAndSet: () => true }

let server: Listening
let opaque: Listening
let recorder: Awaited<ReturnType<typeof startRecorder>>
beforeAll(async () => {
  server = await startSigilServer(KEYS, { nonceStore: allFresh })
  opaque = await startSigilServer(KEYS, { nonceStore: allFresh, opaque: true })
  recorder = await startRecorder(server)
})
afterAll(async () => {
  await recorder?.close()
  await opaque?.close()
  await server?.close()
})

/** The Python recipe's request for `token` (recorded on its way to the server) and the base it signed. */
async function signedBy(token: string): Promise<{ request: Forwarded; clientBase: string }> {
  const r = await runRecipe(recipeCommand('python'), token, ['POST', `${recorder.origin}/v1/orders?a=1`, bodyFile(BODY)], {
    SIGIL_DEBUG: '1',
  })
  expect(r.status, r.body).toBe(200)
  return { request: recorder.last(), clientBase: r.stderr.replace(/\n$/, '') }
}

const problem = (r: { body: string }) => JSON.parse(r.body) as { code: string; explanation?: TestKeyExplanation }
const lines = (base: string) => base.split('\n')

describe('a test key', () => {
  it('has a token a scanner tells from a live one, and verified.test says so', async () => {
    expect(testKey.token.startsWith('sigil_tk_')).toBe(true)
    expect(liveKey.token.startsWith('sigil_sk_')).toBe(true)
    const r = await runRecipe(recipeCommand('python'), testKey.token, ['GET', `${server.origin}/v1/orders`])
    expect((JSON.parse(r.body) as Echo).test).toBe(true)
    const live = await runRecipe(recipeCommand('python'), liveKey.token, ['GET', `${server.origin}/v1/orders`])
    expect((JSON.parse(live.body) as Echo).test).toBeUndefined()
  })

  it('is refused where test keys are refused (verifier option or per route), a live key is not', async () => {
    const strict = await startSigilServer(KEYS, { testKeys: false })
    const route = await startSigilServer(KEYS, {}, { testKeys: false })
    try {
      for (const s of [strict, route]) {
        const t = await runRecipe(recipeCommand('python'), testKey.token, ['GET', `${s.origin}/v1/orders`])
        expect(t.status).toBe(403)
        expect(problem(t).code).toBe('TEST_KEY_REFUSED')
        const l = await runRecipe(recipeCommand('python'), liveKey.token, ['GET', `${s.origin}/v1/orders`])
        expect(l.status).toBe(200)
      }
    } finally {
      await strict.close()
      await route.close()
    }
  })

  it('gets the server base and where @authority came from when the authority differs', async () => {
    const { request, clientBase } = await signedBy(testKey.token)
    setHeader(request, 'host', header(request, 'host').replace('127.0.0.1', 'localhost'))
    const r = await send(server, request)
    expect(r.status).toBe(401)
    const p = problem(r)
    expect(p.code).toBe('SIGNATURE_INVALID')
    const x = p.explanation as TestKeyExplanation
    expect(x.authority).toEqual({ value: `localhost:${recorder.port}`, from: 'Host', untrustedProxyHeader: false })
    expect(x.digest).toBe('matched')
    // The partner diffs the two bases: exactly the @authority line differs.
    const diff = lines(x.signatureBase).filter((l, i) => l !== lines(clientBase)[i])
    expect(diff).toEqual([`"@authority": localhost:${recorder.port}`])
  })

  it('is told the body did not match its Content-Digest (covered header changed)', async () => {
    const { request } = await signedBy(testKey.token)
    request.body = Buffer.from(BODY.replace('2', '3'))
    const r = await send(server, request)
    const x = problem(r).explanation as TestKeyExplanation
    expect(problem(r).code).toBe('DIGEST_MISMATCH')
    expect(x.digest).toBe('mismatched')
    expect(x.differed).toEqual(['content-digest'])
    expect(x.receivedDigest).toMatch(/^sha-256=:[A-Za-z0-9+/]{43}=:$/)
  })

  it('is told the digest itself was wrong when the client digested other bytes and signed that', async () => {
    const { request } = await signedBy(testKey.token)
    setHeader(request, 'content-digest', 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:')
    const r = await send(server, request)
    const x = problem(r).explanation as TestKeyExplanation
    expect(problem(r).code).toBe('SIGNATURE_INVALID')
    expect(x).toMatchObject({ digest: 'mismatched', differed: ['content-digest'] })
  })
})

describe('no explanation', () => {
  it('for a live key, with the same mistake', async () => {
    const { request } = await signedBy(liveKey.token)
    setHeader(request, 'host', header(request, 'host').replace('127.0.0.1', 'localhost'))
    for (const s of [server, opaque]) {
      const r = await send(s, request)
      expect(r.status).toBe(401)
      expect(problem(r).code).toBe('SIGNATURE_INVALID')
      expect(r.body).not.toContain('explanation')
      expect(r.body).not.toContain('@authority')
    }
    const body = await signedBy(liveKey.token)
    body.request.body = Buffer.from(BODY.replace('2', '3'))
    const d = await send(server, body.request)
    expect(problem(d).code).toBe('DIGEST_MISMATCH')
    expect(d.body).not.toContain('explanation')
  })

  it('for an unknown key id or a revoked test key in opaque mode (they look like a bad signature)', async () => {
    const { request } = await signedBy(testKey.token)
    const unknown: Forwarded = { ...request, headers: request.headers.map(([n, v]) => [n, v]) }
    setHeader(unknown, 'signature-input', header(unknown, 'signature-input').replace(testKey.keyId, `${testKey.keyId.slice(0, -1)}Z`))
    const r = await send(opaque, unknown)
    expect(problem(r).code).toBe('SIGNATURE_INVALID')
    expect(r.body).not.toContain('explanation')
    const rev = await runRecipe(recipeCommand('python'), revokedTestKey.token, ['POST', `${opaque.origin}/v1/orders`, bodyFile(BODY)])
    expect(problem(rev).code).toBe('SIGNATURE_INVALID')
    expect(rev.body).not.toContain('explanation')
  })
})
