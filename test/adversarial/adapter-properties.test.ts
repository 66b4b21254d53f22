// Issue 10 "done means": a property test that generates stacked middleware, proxy chains, path
// normalizations and HTTP/1.1 / HTTP/2 framings, sends each request over a real socket to every
// adapter, and checks that nothing the app accepts would be refused by ONE strict verifier: the
// options of the router that answered (inner keys and scopes on the stacked sub-router), the
// authority the client really addressed (known to the generator, never read from forwarding
// headers), the raw target, the body bytes as sent, and no exemption except a plain /public/ path.
import { component, contentDigest, type KeyRecord, signMessage } from '@sigil/core'
import { normalizeAuthority, splitTarget } from '@sigil/core/internal'
import { createMemoryNonceStore, createVerifier, type VerifyOptions } from '@sigil/server'
import type { SigilOptions } from '@sigil/server/express'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AdapterName,
  type Answer,
  type Framing,
  type Running,
  rawBytes,
  sendH2,
  sendRaw,
  startApp,
  startH2Node,
} from './adapter-apps.js'
import { check, FUZZ_RUNS, fuzzTimeout } from './fuzz-config.js'
import { headerSource, NOW_S, SECRET, type Wire } from './harness.js'

const HOST = 'api.example.com'
const now = () => NOW_S * 1000
const rec = (keyId: string, scopes: string[]): KeyRecord => ({
  keyId,
  secret: SECRET,
  principal: keyId,
  scopes,
  status: 'active',
  createdAt: new Date(0),
})
const OUTER = new Map([
  ['k_partner', rec('k_partner', ['orders:write'])],
  ['k_operator', rec('k_operator', ['admin'])],
  ['k_reader', rec('k_reader', ['orders:read'])],
])
const INNER = new Map([
  ['k_operator', rec('k_operator', ['admin'])],
  ['k_reader', rec('k_reader', ['orders:read'])],
])
const outerOptions = (over: Partial<SigilOptions> = {}): SigilOptions => ({
  keys: { get: (id) => OUTER.get(id) },
  now,
  nonceStore: createMemoryNonceStore({ now }),
  exempt: ['/public/*'],
  ...over,
})
const innerOptions = (over: Partial<SigilOptions> = {}): SigilOptions => ({
  keys: { get: (id) => INNER.get(id) },
  now,
  nonceStore: createMemoryNonceStore({ now }),
  requiredScopes: ['admin'],
  ...over,
})

/** The one strict verifier for the router that answered. */
function strictFor(area: 'inner' | 'outer', authority: string) {
  const base: VerifyOptions = { now, nonceStore: createMemoryNonceStore({ now }), authority, keys: { get: (id) => OUTER.get(id) } }
  // Inner: the key must pass both the outer and the inner verifier, with the inner scope.
  return createVerifier(
    area === 'inner' ? { ...base, keys: { get: (id) => (OUTER.has(id) ? INNER.get(id) : undefined) }, requiredScopes: ['admin'] } : base,
  )
}

const PLAIN = /^\/[A-Za-z0-9/_-]*$/
const isPlain = (p: string) => PLAIN.test(p) && !p.includes('//')

interface Scenario {
  adapter: AdapterName | 'node-h2'
  proxied: boolean
  key: 'k_partner' | 'k_operator' | 'k_reader' | 'k_shadow' | null
  method: string
  signedPath: string
  pathTrick: (p: string) => string
  host: 'same' | 'duplicate' | 'absolute-other' | 'absolute-same' | 'list'
  clientHost: string
  injected: string[]
  proxyMode: 'append' | 'overwrite'
  body: 'none' | 'signed' | 'added' | 'swapped' | 'empty'
  framing: Framing | 'h2'
}

const tricks: Record<string, (p: string) => string> = {
  same: (p) => p,
  dotdot: (p) => `/public/..${p}`,
  encodedDots: (p) => `/public/%2e%2e${p}`,
  dotSlash: (p) => `/public/./..${p}`,
  doubleSlash: (p) => `/${p}`,
  backslash: (p) => `/public/..${p.replace('/', '\\')}`,
  encodedSlash: (p) => p.replace(/\//g, '%2f').replace(/^%2f/, '/'),
  upper: (p) => p.toUpperCase(),
  trailing: (p) => `${p}/`,
  adminDotdot: (p) => `/admin/..${p}`,
}

const scenario = fc.record({
  adapter: fc.constantFrom<Scenario['adapter']>('node', 'express4', 'express5', 'fastify', 'fastify-h2', 'hono', 'web', 'node-h2'),
  proxied: fc.boolean(),
  key: fc.constantFrom<Scenario['key']>('k_partner', 'k_operator', 'k_reader', 'k_shadow', null),
  method: fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS', 'PUT'),
  signedPath: fc.constantFrom('/v1/orders', '/admin/users', '/admin/keys/1', '/public/docs', '/public/../admin/users', '/v1/a%2Fb'),
  pathTrick: fc.constantFrom(...Object.keys(tricks)).map((k) => tricks[k] as (p: string) => string),
  host: fc.constantFrom<Scenario['host']>('same', 'same', 'duplicate', 'absolute-other', 'absolute-same', 'list'),
  clientHost: fc.constantFrom(HOST, HOST, 'tenant-b.example'),
  injected: fc.array(fc.constantFrom(HOST, 'tenant-b.example', 'evil.example'), { maxLength: 2 }),
  proxyMode: fc.constantFrom<Scenario['proxyMode']>('append', 'overwrite'),
  body: fc.constantFrom<Scenario['body']>('none', 'signed', 'added', 'swapped', 'empty'),
  framing: fc.constantFrom<Scenario['framing']>('content-length', 'chunked', 'none', 'content-length-0', 'h2'),
})

const BODY = '{"sku":"A-1"}'

async function build(s: Scenario): Promise<{ wire: Wire; bytes: Uint8Array | null; trueHost: string }> {
  const signedBody = s.body === 'signed' || s.body === 'swapped' ? new TextEncoder().encode(BODY) : null
  const lines: [string, string][] = [['Host', HOST]]
  if (signedBody) lines.push(['Content-Type', 'application/json'], ['Content-Digest', contentDigest(signedBody)])
  const { path, query } = splitTarget(s.signedPath)
  if (s.key) {
    const components = ['@method', '@authority', '@path', '@query', ...(signedBody ? ['content-type', 'content-digest'] : [])].map((c) =>
      component(c),
    )
    const secret = s.key === 'k_shadow' ? new Uint8Array(32).fill(7) : SECRET
    const keyId = s.key === 'k_shadow' ? 'k_operator' : s.key
    const signed = await signMessage(
      { method: s.method, scheme: 'http', authority: normalizeAuthority(HOST, 'http'), path, query, headers: headerSource(lines) },
      { keyId, secret, components, created: NOW_S },
    )
    lines.push(['Signature-Input', signed.signatureInput], ['Signature', signed.signature])
  }
  // What the server receives: the path trick, the host trick, the proxy chain, the body.
  const target = s.pathTrick(s.signedPath)
  let headers = lines.map(([k, v]) => [k, v] as [string, string])
  let trueHost = s.clientHost
  let wireTarget = target
  if (s.proxied) {
    // The client talks to the proxy at clientHost; the proxy forwards with its own Host.
    const chain = s.proxyMode === 'append' ? [...s.injected, s.clientHost] : [s.clientHost]
    headers = headers.map(([k, v]) => (k === 'Host' ? [k, 'internal.example:8080'] : [k, v]))
    headers.push(['X-Forwarded-Host', chain.join(', ')])
  } else {
    headers = headers.map(([k, v]) => (k === 'Host' ? [k, s.clientHost] : [k, v]))
    if (s.host === 'duplicate') headers.push(['Host', s.clientHost === HOST ? 'tenant-b.example' : HOST])
    if (s.host === 'list') headers = headers.map(([k, v]) => (k === 'Host' ? [k, `${v}, evil.example`] : [k, v]))
    if (s.host === 'absolute-other') wireTarget = `http://${s.clientHost === HOST ? 'tenant-b.example' : HOST}${target}`
    if (s.host === 'absolute-same') wireTarget = `http://${s.clientHost}${target}`
    // Two hosts named: a strict verifier refuses. verify(Request) never sees the request target
    // (the runtime keeps its path only), so there the Host header is all the app and verifier see.
    const unseen = s.adapter === 'web' && s.host === 'absolute-other'
    if (s.host !== 'same' && s.host !== 'absolute-same' && !unseen) trueHost = ''
  }
  const bytes =
    s.body === 'signed'
      ? new TextEncoder().encode(BODY)
      : s.body === 'swapped'
        ? new TextEncoder().encode('{"sku":"B-2"}')
        : s.body === 'added'
          ? new TextEncoder().encode('{"refund":1000}')
          : s.body === 'empty'
            ? new Uint8Array(0)
            : null
  return {
    wire: { method: s.method, scheme: 'http', target: wireTarget, headers, body: bytes, framing: 'content-length' },
    bytes,
    trueHost,
  }
}

/** Would one strict verifier, for the router that answered, accept this request? */
async function strictAccepts(s: Scenario, wire: Wire, bytes: Uint8Array | null, trueHost: string, area: 'inner' | 'outer') {
  // verify(Request) has no raw target: the runtime's URL (WHATWG-normalized) is the path the app
  // dispatches on and the one it verifies; everywhere else the raw target is.
  const raw = splitTarget(wire.target)
  const { path, query } = s.adapter === 'web' ? splitTarget(new URL(raw.path + raw.query, 'http://x').href.slice('http://x'.length)) : raw
  // An exempt route takes anything, signed or not: only a plain /public/ path outside the stack.
  const rawPath = splitTarget(wire.target).path
  if (area === 'outer' && isPlain(rawPath) && rawPath.startsWith('/public/')) return true
  if (!s.key) return false
  if (trueHost === '') return false
  const verifier = strictFor(area, trueHost)
  const headers = headerSource(wire.headers)
  // A runtime that builds a Web Request gives GET and HEAD no body (Next does so): bytes sent with
  // them never reach the app, nor verify(Request).
  const dropped = s.adapter === 'web' && (wire.method === 'GET' || wire.method === 'HEAD')
  const body = bytes && bytes.byteLength > 0 && !dropped ? bytes : null
  try {
    await verifier.verifyIncoming({
      message: { method: wire.method, scheme: 'http', authority: normalizeAuthority(trueHost, 'http'), path, query, headers },
      hasBody: body !== null,
      body: () => (body ? [body] : null),
    })
    return true
  } catch {
    return false
  }
}

describe('property: stacked middleware, proxies, paths and framings accept nothing a strict verifier refuses', () => {
  const apps = new Map<string, Running>()
  beforeAll(async () => {
    const names: Array<AdapterName | 'node-h2'> = ['node', 'express4', 'express5', 'fastify', 'fastify-h2', 'hono', 'web', 'node-h2']
    for (const name of names) {
      for (const proxied of [false, true]) {
        const over = proxied ? { trustProxy: 1 } : {}
        const spec = { options: outerOptions(over), inner: { prefix: '/admin', options: innerOptions(over) } }
        apps.set(`${name}:${proxied}`, name === 'node-h2' ? await startH2Node(spec) : await startApp(name, spec))
      }
    }
  }, 60_000)
  afterAll(async () => {
    for (const a of apps.values()) await a.close()
  })

  it(
    'no wrong accept',
    async () => {
      const accepted: string[] = []
      await check(
        'adapters: stacked/proxy/path/h2',
        FUZZ_RUNS,
        fc.asyncProperty(scenario, async (s: Scenario) => {
          // HTTP/2 framing only where the server speaks it, and only HTTP/2 there.
          const h2 = s.adapter === 'fastify-h2' || s.adapter === 'node-h2'
          const framing: Framing | 'h2' = h2 ? 'h2' : s.framing === 'h2' ? 'chunked' : s.framing
          if (h2 && s.host !== 'same' && !s.proxied) s.host = 'same'
          const { wire, bytes, trueHost } = await build({ ...s, framing })
          const app = apps.get(`${s.adapter}:${s.proxied}`) as Running
          let answer: Answer
          if (framing === 'h2') {
            if (/[^\x21-\x7e]/.test(wire.target) || !wire.target.startsWith('/')) return true
            answer = await sendH2(app.port, wire, bytes)
          } else {
            // Framings that cannot carry the bytes become Content-Length.
            const f: Framing =
              bytes && bytes.byteLength > 0 && (framing === 'none' || framing === 'content-length-0') ? 'content-length' : framing
            answer = await sendRaw(app.port, rawBytes(wire, f))
          }
          expect(answer.status).toBeLessThan(500)
          if (answer.code !== 'ok') return true
          accepted.push(`${s.adapter} ${s.key} ${wire.target}`)
          const ok = await strictAccepts(s, wire, bytes, trueHost, answer.seen?.area ?? 'outer')
          expect(
            ok,
            `accepted by ${s.adapter} but refused by a strict verifier: ${JSON.stringify({ ...s, pathTrick: undefined, wire: wire.target })}`,
          ).toBe(true)
          return true
        }),
        0,
      )
      // The generator does reach accepts (the property is not vacuous).
      if (FUZZ_RUNS >= 100) expect(accepted.length).toBeGreaterThan(0)
    },
    fuzzTimeout(25),
  )
})
