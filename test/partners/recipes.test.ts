// The partner recipes in examples/partners (Python, Java, bash + curl + openssl) against a real
// Sigil server: each signs what the default profile requires, and a proxy that changes any one
// covered thing on the way makes the server refuse the request.
import { createHash } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import type { KeyRecord } from '@sigil/core'
import { generateKey } from '@sigil/keys'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  bodyFile,
  compileJava,
  type Echo,
  type Forwarded,
  header,
  type Listening,
  type RecipeName,
  recipeCommand,
  runRecipe,
  send,
  setHeader,
  startRecorder,
  startSigilServer,
} from './harness.js'

/** A key whose token's secret contains `_` (and `-`): a token split on every `_` breaks on it. */
function partnerKey() {
  for (;;) {
    const k = generateKey({ principal: 'partner-acme', scopes: ['orders:write'] })
    const secretPart = k.token.slice('sigil_sk_'.length + k.keyId.length + 1, k.token.lastIndexOf('_'))
    if (secretPart.includes('_') && secretPart.includes('-')) return k
  }
}

// Each case starts a python3, bash or JVM process: seconds each on a loaded machine.
vi.setConfig({ testTimeout: 60_000 })

const key = partnerKey()
let server: Listening
let vectorServer: Listening
let recorder: Awaited<ReturnType<typeof startRecorder>>
let replayable: Listening
let javaClasses: string
const RECIPES: RecipeName[] = ['python', 'bash', 'java']

beforeAll(async () => {
  server = await startSigilServer([key.record])
  vectorServer = await startSigilServer(TOKEN_VECTORS.map(vectorKey))
  recorder = await startRecorder(server)
  replayable = await startSigilServer([key.record], { nonceStore: { checkAndSet: () => true } })
  javaClasses = await compileJava()
}, 120_000)

afterAll(async () => {
  await recorder?.close()
  await replayable?.close()
  await server?.close()
  await vectorServer?.close()
  if (javaClasses) rmSync(javaClasses, { recursive: true, force: true })
})

/** The token known answers (SPEC §4), each made a key the server knows. */
const TOKEN_VECTORS = (
  JSON.parse(readFileSync(new URL('../vectors/sigil-token-v1.json', import.meta.url), 'utf8')) as {
    cases: { name: string; token: string; keyId: string; secretHex: string; test: boolean }[]
  }
).cases
const vectorKey = (c: (typeof TOKEN_VECTORS)[number]): KeyRecord => ({
  keyId: c.keyId,
  secret: Uint8Array.from(Buffer.from(c.secretHex, 'hex')),
  principal: c.name,
  scopes: [],
  status: 'active',
  createdAt: new Date(0),
  ...(c.test ? { test: true as const } : {}),
})

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex')
const cmd = (name: RecipeName) => recipeCommand(name, javaClasses)
const JSON_BODY = '{"sku":"A-1","qty":2,"note":"für Zoë"}'
// Not UTF-8: a lone continuation byte, an overlong NUL, 0xFF, a NUL, CR LF.
const BINARY = Uint8Array.from([0xff, 0xfe, 0x80, 0xc0, 0x80, 0x00, 0x0d, 0x0a, 0xed, 0xa0, 0x80, 0x41])

describe.each(RECIPES)('the %s recipe', (name) => {
  it('signs a GET with a query, sent and verified exactly as written', async () => {
    const r = await runRecipe(cmd(name), key.token, ['GET', `${server.origin}/v1/orders?status=open&b=2&a=1&a=0`])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(200)
    expect(r.exitCode).toBe(0)
    const echo = JSON.parse(r.body) as Echo
    expect(echo).toMatchObject({ principal: 'partner-acme', keyId: key.keyId, method: 'GET', url: '/v1/orders?status=open&b=2&a=1&a=0' })
  })

  it('signs a POST with a JSON body (content-type and Content-Digest covered)', async () => {
    const file = bodyFile(JSON_BODY)
    const r = await runRecipe(cmd(name), key.token, ['post', `${server.origin}/v1/orders?dry_run=1`, file])
    expect(r.status).toBe(200)
    const echo = JSON.parse(r.body) as Echo
    expect(echo).toMatchObject({ method: 'POST', url: '/v1/orders?dry_run=1', contentType: 'application/json', sha256: sha256(JSON_BODY) })
  })

  it('signs a unicode path and query as their UTF-8 percent-encoding, and keeps existing escapes', async () => {
    const r = await runRecipe(cmd(name), key.token, ['GET', `${server.origin}/v1/ordres/ünï%2Fcødé/файл?q=é x&tag=%E2%9C%93&emoji=🦀`])
    expect(r.status).toBe(200)
    const echo = JSON.parse(r.body) as Echo
    expect(echo.url).toBe(
      '/v1/ordres/%C3%BCn%C3%AF%2Fc%C3%B8d%C3%A9/%D1%84%D0%B0%D0%B9%D0%BB?q=%C3%A9%20x&tag=%E2%9C%93&emoji=%F0%9F%A6%80',
    )
  })

  it('signs a body whose bytes are not UTF-8', async () => {
    const file = bodyFile(BINARY)
    const r = await runRecipe(cmd(name), key.token, ['PUT', `${server.origin}/v1/blobs/1`, file], {
      SIGIL_CONTENT_TYPE: 'application/octet-stream',
    })
    expect(r.status).toBe(200)
    const echo = JSON.parse(r.body) as Echo
    expect(echo).toMatchObject({ method: 'PUT', contentType: 'application/octet-stream', sha256: sha256(BINARY), length: BINARY.length })
  })

  it('takes apart every token of test/vectors/sigil-token-v1.json (secrets full of _, both prefixes)', async () => {
    for (const c of TOKEN_VECTORS) {
      const r = await runRecipe(cmd(name), c.token, ['GET', `${vectorServer.origin}/v1/whoami`])
      expect(r.status, `${c.name}: ${r.stderr}${r.body}`).toBe(200)
      expect((JSON.parse(r.body) as Echo).keyId).toBe(c.keyId)
    }
  })

  it('refuses a mistyped token before sending anything (checksum)', async () => {
    const at = key.token.length - 12
    const typo = key.token.slice(0, at) + (key.token[at] === 'a' ? 'b' : 'a') + key.token.slice(at + 1)
    const r = await runRecipe(cmd(name), typo, ['GET', `${server.origin}/v1/orders`])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/checksum/)
    expect(r.status).toBeNaN()
  })
})

it('runs as `java Sign.java` with no build step', async () => {
  const r = await runRecipe(recipeCommand('java-source'), key.token, ['GET', `${server.origin}/v1/orders?a=1`])
  expect(r.status).toBe(200)
  expect((JSON.parse(r.body) as Echo).url).toBe('/v1/orders?a=1')
}, 60_000)

const swap = (s: string, from: string, to: string) => {
  if (!s.includes(from)) throw new Error(`${from} not in ${s}`)
  return s.replace(from, to)
}
const flipLastChar = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A')

/** Each changes one covered thing; the server must refuse with the code given. */
const MUTATIONS: [string, (r: Forwarded) => void, string][] = [
  [
    '@method',
    (r) => {
      r.method = 'PATCH'
    },
    'SIGNATURE_INVALID',
  ],
  ['@authority', (r) => setHeader(r, 'host', header(r, 'host').replace('127.0.0.1', 'localhost')), 'SIGNATURE_INVALID'],
  [
    '@path',
    (r) => {
      r.url = swap(r.url, '/v1/orders', '/v1/Orders')
    },
    'SIGNATURE_INVALID',
  ],
  [
    '@query',
    (r) => {
      r.url = swap(r.url, 'a=1', 'a=2')
    },
    'SIGNATURE_INVALID',
  ],
  [
    '@query (appended parameter)',
    (r) => {
      r.url += '&admin=1'
    },
    'SIGNATURE_INVALID',
  ],
  ['content-type', (r) => setHeader(r, 'content-type', 'text/plain'), 'SIGNATURE_INVALID'],
  [
    'content-digest',
    (r) => setHeader(r, 'content-digest', `sha-256=:${createHash('sha256').update('x').digest('base64')}:`),
    'SIGNATURE_INVALID',
  ],
  [
    'the body',
    (r) => {
      r.body[3] = (r.body[3] as number) ^ 1
    },
    'DIGEST_MISMATCH',
  ],
  [
    'created',
    (r) =>
      setHeader(
        r,
        'signature-input',
        header(r, 'signature-input').replace(/created=(\d+)/, (_, n) => `created=${Number(n) - 1}`),
      ),
    'SIGNATURE_INVALID',
  ],
  [
    'expires',
    (r) =>
      setHeader(
        r,
        'signature-input',
        header(r, 'signature-input').replace(/expires=(\d+)/, (_, n) => `expires=${Number(n) + 60}`),
      ),
    'SIGNATURE_INVALID',
  ],
  [
    'nonce',
    (r) =>
      setHeader(
        r,
        'signature-input',
        header(r, 'signature-input').replace(/nonce="([^"]+)"/, (_, n: string) => `nonce="${flipLastChar(n)}"`),
      ),
    'SIGNATURE_INVALID',
  ],
  [
    'keyid',
    (r) =>
      setHeader(
        r,
        'signature-input',
        header(r, 'signature-input').replace(/keyid="([^"]+)"/, (_, k: string) => `keyid="${flipLastChar(k)}"`),
      ),
    'KEY_UNKNOWN',
  ],
  ['alg', (r) => setHeader(r, 'signature-input', swap(header(r, 'signature-input'), ';alg="hmac-sha256"', '')), 'SIGNATURE_INVALID'],
  ['tag', (r) => setHeader(r, 'signature-input', swap(header(r, 'signature-input'), 'tag="sigil"', 'tag="other"')), 'SIGNATURE_MISSING'],
  [
    'the component list',
    (r) => setHeader(r, 'signature-input', swap(header(r, 'signature-input'), ' "content-type"', '')),
    'SIGNATURE_INVALID',
  ],
  [
    'the signature',
    (r) =>
      setHeader(
        r,
        'signature',
        // A character in the middle: every bit of it is MAC (the last one also holds pad bits).
        header(r, 'signature').replace(/(:[A-Za-z0-9+/]{9})(.)/, (_, head: string, c: string) => head + (c === 'A' ? 'B' : 'A')),
      ),
    'SIGNATURE_INVALID',
  ],
]

describe.each(RECIPES)('a request the %s recipe signed, changed in one thing', (name) => {
  // The recipe's request as it went on the wire (recorded by a proxy that forwarded it and got a
  // 200), then sent again with one change to a server whose nonce store lets the same nonce
  // through, so each refusal is the change's doing and not a replay.
  let signed: Forwarded
  beforeAll(async () => {
    const r = await runRecipe(cmd(name), key.token, ['POST', `${recorder.origin}/v1/orders?a=1&b=2`, bodyFile(JSON_BODY)])
    expect(r.status).toBe(200)
    signed = recorder.last()
  }, 60_000)

  it('is accepted again unchanged (the control)', async () => {
    const r = await send(replayable, signed)
    expect(r.status, r.body).toBe(200)
    expect((JSON.parse(r.body) as Echo).sha256).toBe(sha256(JSON_BODY))
  })

  it.each(MUTATIONS)('is refused when %s changes', async (_, mutate, code) => {
    const changed: Forwarded = { ...signed, headers: signed.headers.map(([n, v]) => [n, v]), body: Buffer.from(signed.body) }
    mutate(changed)
    const r = await send(replayable, changed)
    expect(r.status, r.body).toBe(401)
    expect(JSON.parse(r.body).code).toBe(code)
  })
})
