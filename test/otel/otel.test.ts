// `@sigil/server/otel`: verification outcomes as OpenTelemetry metrics and spans, read back with the
// SDK's in-memory exporters, through verify(), Express, Hono and Fastify. Asserts what an operator
// reads (result, key class, route, duration) and what must never be there (key ids, secrets,
// signatures, header values, the URL).
import { createServer } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { metrics, SpanStatusCode } from '@opentelemetry/api'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { signRequest } from '@sigil/client'
import type { KeyRecord } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { ConfigurationError, createVerifier, type VerificationEvent, type VerifyOptions, verify } from '@sigil/server'
import * as sigilExpress from '@sigil/server/express'
import * as sigilFastify from '@sigil/server/fastify'
import * as sigilHono from '@sigil/server/hono'
import { withSigil } from '@sigil/server/node'
import { sigilTelemetry } from '@sigil/server/otel'
import { build } from 'esbuild'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { listening, sendTo } from '../adapters/fixtures.js'

const secret = randomBytes(32)
const testSecret = randomBytes(32)
const LIVE = 'kOtelLive0001'
const TEST = 'kOtelTest0001'
const DOWN = 'kOtelStoreDown1'
const STRANGER = 'kOtelStranger01'
const ORIGIN = 'http://api.test'
// A query that must never reach a label: the raw URL is unbounded and may carry tokens.
const QUERY = '?token=qry-7f3a9c-never-a-label'

const record = (keyId: string, s: Uint8Array, test = false): KeyRecord => ({
  keyId,
  secret: s,
  principal: `p-${keyId}`,
  scopes: ['orders:write'],
  status: 'active',
  createdAt: new Date(0),
  ...(test ? { test: true } : {}),
})
const keys: VerifyOptions['keys'] = {
  get(id) {
    if (id === LIVE) return record(LIVE, secret)
    if (id === TEST) return record(TEST, testSecret, true)
    // The driver's message carries the key id and a connection string: neither may reach telemetry.
    if (id === DOWN) return Promise.reject(new Error(`connect ECONNREFUSED postgres://sigil:pw@db/keys for ${id}`))
    return undefined
  },
}

interface Sent {
  request: Request
  /** Every header value and the URL, as sent: none may appear in telemetry. */
  forbidden: string[]
}

/** A signed POST with a JSON body, as `keyId` signs it with `s`. */
async function signedOrder(path: string, keyId: string, s: Uint8Array): Promise<Sent> {
  const url = `${ORIGIN}${path}${QUERY}`
  const body = JSON.stringify({ sku: 'A-1' })
  const request = await signRequest(new Request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } }), {
    keyId,
    secret: s,
  })
  const forbidden = [url, path + QUERY, QUERY.slice(1), keyId, Buffer.from(s).toString('hex'), Buffer.from(s).toString('base64')]
  request.headers.forEach((v, k) => {
    if (k !== 'content-type') forbidden.push(v)
  })
  // The MAC itself, without the structured-field wrapping (`sigil=:…:`).
  const sig = request.headers.get('signature') as string
  forbidden.push(sig.slice(sig.indexOf(':') + 1, sig.lastIndexOf(':')))
  const nonce = /nonce="([^"]+)"/.exec(request.headers.get('signature-input') as string)?.[1]
  if (nonce) forbidden.push(nonce)
  return { request, forbidden }
}

let metricExporter: InMemoryMetricExporter
let reader: PeriodicExportingMetricReader
let meterProvider: MeterProvider
let spanExporter: InMemorySpanExporter
let tracerProvider: BasicTracerProvider

beforeEach(() => {
  metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
  meterProvider = new MeterProvider({ readers: [reader] })
  spanExporter = new InMemorySpanExporter()
  tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] })
})

afterEach(async () => {
  await meterProvider.shutdown()
  await tracerProvider.shutdown()
  metrics.disable()
})

interface Point {
  attributes: Record<string, unknown>
  value: number
}

/** The counter's and the histogram's points after a collection. */
async function collected(): Promise<{ counts: Point[]; durations: Array<Point & { count: number; max: number }>; units: string[] }> {
  await reader.forceFlush()
  const resource = metricExporter.getMetrics().at(-1)
  const all = resource?.scopeMetrics.filter((s) => s.scope.name === '@sigil/server').flatMap((s) => s.metrics) ?? []
  const counter = all.find((m) => m.descriptor.name === 'sigil.verifications')
  const histogram = all.find((m) => m.descriptor.name === 'sigil.verification.duration')
  expect(counter?.dataPointType).toBe(DataPointType.SUM)
  expect(histogram?.dataPointType).toBe(DataPointType.HISTOGRAM)
  return {
    counts: (counter?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value as number })),
    durations: (histogram?.dataPoints ?? []).map((p) => {
      const h = p.value as Histogram
      return { attributes: p.attributes, value: h.sum ?? 0, count: h.count, max: h.max ?? 0 }
    }),
    units: [counter?.descriptor.unit ?? '', histogram?.descriptor.unit ?? ''],
  }
}

function spans(): ReadableSpan[] {
  return spanExporter.getFinishedSpans().filter((s) => s.name === 'sigil.verify')
}

const ALLOWED_KEYS = new Set(['sigil.verification.result', 'sigil.key.class', 'http.request.method', 'http.route', 'error.type'])

/** Every attribute key is one of ours, and no attribute value contains any forbidden text. */
async function assertClean(forbidden: readonly string[]): Promise<void> {
  const { counts, durations } = await collected()
  const sets = [...counts, ...durations].map((p) => p.attributes).concat(spans().map((s) => s.attributes))
  expect(sets.length).toBeGreaterThan(0)
  for (const attributes of sets) {
    for (const [k, v] of Object.entries(attributes)) {
      expect(ALLOWED_KEYS.has(k), k).toBe(true)
      const text = String(v)
      for (const f of forbidden) {
        expect(f.length).toBeGreaterThan(3)
        expect(text.includes(f), `${k}=${text} contains sent text`).toBe(false)
      }
    }
  }
  // The verifier's own messages (a store's error) never reach span events or status messages either.
  for (const s of spans()) {
    expect(s.events).toEqual([])
    for (const f of forbidden) expect(s.status.message ?? '').not.toContain(f)
  }
}

const telemetry = () => sigilTelemetry({ meterProvider, tracerProvider })

/** The four outcomes every entry point is tested with. */
async function fourRequests(path: string) {
  return {
    accepted: await signedOrder(path, LIVE, secret),
    invalid: await signedOrder(path, LIVE, randomBytes(32)),
    unknown: await signedOrder(path, STRANGER, randomBytes(32)),
    outage: await signedOrder(path, DOWN, randomBytes(32)),
  }
}

/** What every entry point must have recorded for {@link fourRequests} (route: as the adapter knows it). */
async function expectFour(route: string | undefined) {
  const base = { 'http.request.method': 'POST', ...(route === undefined ? {} : { 'http.route': route }) }
  const expected = [
    { ...base, 'sigil.verification.result': 'accepted', 'sigil.key.class': 'known' },
    { ...base, 'sigil.verification.result': 'SIGNATURE_INVALID', 'sigil.key.class': 'known', 'error.type': 'SIGNATURE_INVALID' },
    { ...base, 'sigil.verification.result': 'KEY_UNKNOWN', 'sigil.key.class': 'unknown', 'error.type': 'KEY_UNKNOWN' },
    { ...base, 'sigil.verification.result': 'STORE_UNAVAILABLE', 'sigil.key.class': 'unresolved', 'error.type': 'STORE_UNAVAILABLE' },
  ]
  const byResult = (a: { 'sigil.verification.result'?: unknown }, b: { 'sigil.verification.result'?: unknown }) =>
    String(a['sigil.verification.result']).localeCompare(String(b['sigil.verification.result']))
  const { counts, durations, units } = await collected()
  expect(units).toEqual(['{verification}', 's'])
  expect(counts.map((p) => p.attributes).sort(byResult)).toEqual([...expected].sort(byResult))
  expect(counts.every((p) => p.value === 1)).toBe(true)
  expect(durations.map((p) => p.attributes).sort(byResult)).toEqual([...expected].sort(byResult))
  // Seconds: each a real, positive duration well under the 2 s store deadline (milliseconds would be ~1000× larger).
  for (const d of durations) {
    expect(d.count).toBe(1)
    expect(d.value).toBeGreaterThan(0)
    expect(d.max).toBeLessThan(1)
  }
  const got = spans()
  expect(got.map((s) => s.attributes).sort(byResult)).toEqual([...expected].sort(byResult))
  for (const s of got) {
    const outage = s.attributes['sigil.verification.result'] === 'STORE_UNAVAILABLE'
    expect(s.status.code).toBe(outage ? SpanStatusCode.ERROR : SpanStatusCode.UNSET)
    const start = s.startTime[0] * 1000 + s.startTime[1] / 1e6
    const end = s.endTime[0] * 1000 + s.endTime[1] / 1e6
    expect(Math.abs(start - Date.now())).toBeLessThan(60_000)
    expect(end).toBeGreaterThanOrEqual(start)
    expect(s.instrumentationScope.name).toBe('@sigil/server')
  }
}

describe('sigilTelemetry() through verify()', () => {
  it('counts, times and traces accepted, SIGNATURE_INVALID, KEY_UNKNOWN and a store outage (503), with no sent text in any attribute', async () => {
    const verifier = createVerifier({ keys, telemetry: telemetry(), onError: () => {} })
    const r = await fourRequests('/v1/orders/42')
    await expect(verify(r.accepted.request, verifier)).resolves.toMatchObject({ keyId: LIVE })
    await expect(verify(r.invalid.request, verifier)).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' })
    await expect(verify(r.unknown.request, verifier)).rejects.toMatchObject({ code: 'KEY_UNKNOWN' })
    await expect(verify(r.outage.request, verifier)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
    await expectFour(undefined)
    await assertClean([
      ...r.accepted.forbidden,
      ...r.invalid.forbidden,
      ...r.unknown.forbidden,
      ...r.outage.forbidden,
      'ECONNREFUSED',
      'postgres://',
    ])
  })

  it('labels the key class of test keys, unsigned requests and requests refused before the lookup, and takes a route from the context', async () => {
    const verifier = createVerifier({ keys, telemetry: telemetry() })
    const route = { route: '/v1/orders/[id]' }
    const test = await signedOrder('/v1/orders/7', TEST, testSecret)
    await expect(verify(test.request, verifier, route)).resolves.toMatchObject({ test: true })
    await expect(verify(new Request(`${ORIGIN}/v1/orders/7`, { method: 'POST' }), verifier, route)).rejects.toMatchObject({
      code: 'SIGNATURE_MISSING',
    })
    const stale = await signRequest(new Request(`${ORIGIN}/v1/orders/7`), { keyId: LIVE, secret, now: () => Date.now() - 3_600_000 })
    await expect(verify(stale, verifier, route)).rejects.toMatchObject({ code: 'CLOCK_SKEW' })
    const odd = await signRequest(new Request(`${ORIGIN}/v1/orders/7`, { method: 'PURGE' }), { keyId: LIVE, secret })
    await expect(verify(odd, verifier, route)).resolves.toMatchObject({ keyId: LIVE })
    const { counts } = await collected()
    const seen = counts.map((p) => [
      p.attributes['sigil.verification.result'],
      p.attributes['sigil.key.class'],
      p.attributes['http.request.method'],
    ])
    expect(seen.sort()).toEqual(
      [
        ['accepted', 'test', 'POST'],
        ['SIGNATURE_MISSING', 'none', 'POST'],
        ['CLOCK_SKEW', 'unresolved', 'GET'],
        // A method outside RFC 9110's set is one bounded label, as OpenTelemetry's http.request.method rule says.
        ['accepted', 'known', '_OTHER'],
      ].sort(),
    )
    expect(counts.every((p) => p.attributes['http.route'] === '/v1/orders/[id]')).toBe(true)
  })

  it('reaches a global meter provider registered after the hook was made (an SDK started late)', async () => {
    const hook = sigilTelemetry()
    const verifier = createVerifier({ keys, telemetry: hook })
    await verify((await signedOrder('/v1/a', LIVE, secret)).request, verifier) // before: the no-op provider
    metrics.setGlobalMeterProvider(meterProvider)
    await verify((await signedOrder('/v1/a', LIVE, secret)).request, verifier)
    await verify((await signedOrder('/v1/a', LIVE, secret)).request, verifier)
    const { counts } = await collected()
    expect(counts.map((p) => p.value)).toEqual([2])
  })

  it('records nothing for explain(), and a throwing or rejecting hook changes no verdict', async () => {
    const events: VerificationEvent[] = []
    const verifier = createVerifier({ keys, telemetry: { record: (e) => void events.push(e) } })
    await verifier.explain(
      (await import('../../packages/server/src/internal/index.js')).incomingFromRequest(
        (await signedOrder('/v1/a', LIVE, secret)).request,
        verifier,
      ),
    )
    expect(events).toEqual([])
    await verify((await signedOrder('/v1/a', LIVE, secret)).request, verifier)
    expect(events).toHaveLength(1)
    expect(Object.keys(events[0] as object).sort()).toEqual(['durationMs', 'keyClass', 'method', 'result', 'startTime'])

    const throwing = createVerifier({
      keys,
      telemetry: {
        record() {
          throw new Error('exporter down')
        },
      },
    })
    await expect(verify((await signedOrder('/v1/a', LIVE, secret)).request, throwing)).resolves.toMatchObject({ keyId: LIVE })
    await expect(verify((await signedOrder('/v1/a', LIVE, randomBytes(32))).request, throwing)).rejects.toMatchObject({
      code: 'SIGNATURE_INVALID',
    })
    const rejecting = createVerifier({ keys, telemetry: { record: () => Promise.reject(new Error('exporter down')) as never } })
    await expect(verify((await signedOrder('/v1/a', LIVE, secret)).request, rejecting)).resolves.toMatchObject({ keyId: LIVE })
  })

  it('refuses unknown and mistyped options', () => {
    expect(() => sigilTelemetry({ meterProvder: meterProvider } as never)).toThrow(
      new ConfigurationError('invalid telemetry options: meterProvder: unknown option, did you mean `meterProvider`?'),
    )
    expect(() => sigilTelemetry({ tracerProvider: {} as never })).toThrow(/tracerProvider: must be a TracerProvider/)
    expect(() => sigilTelemetry({ meterProvider: 'prometheus' as never })).toThrow(/meterProvider: must be a MeterProvider/)
    expect(() => createVerifier({ keys, telemetry: (() => {}) as never })).toThrow(/telemetry: must have record\(\)/)
    expect(() => createVerifier({ keys, telmetry: telemetry() } as never)).toThrow(/did you mean `telemetry`/)
  })
})

describe('sigilTelemetry() through the adapters', () => {
  /** Send a Web Request over a socket, headers and target exactly as signed. */
  const wire = (r: Request) => {
    const u = new URL(r.url)
    const headers: Record<string, string> = { host: u.host }
    r.headers.forEach((v, k) => {
      headers[k] = v
    })
    return r.text().then((body) => ({ method: r.method, target: u.pathname + u.search, headers, body }))
  }

  it('express: the route pattern of a route-mounted sigil()', async () => {
    const app = express()
    const o = { keys, telemetry: telemetry(), onError: () => {} }
    app.post('/v1/orders/:id', sigilExpress.sigil(o), (req, res) => {
      res.json({ by: req.sigil?.principal })
    })
    const t = await listening(createServer(app))
    try {
      const send = sendTo(t.port as number)
      const r = await fourRequests('/v1/orders/42')
      expect((await send(await wire(r.accepted.request))).status).toBe(200)
      expect((await send(await wire(r.invalid.request))).json.code).toBe('SIGNATURE_INVALID')
      expect((await send(await wire(r.unknown.request))).json.code).toBe('KEY_UNKNOWN')
      expect((await send(await wire(r.outage.request))).status).toBe(503)
      await expectFour('/v1/orders/:id')
      await assertClean([...r.accepted.forbidden, ...r.invalid.forbidden, ...r.unknown.forbidden, ...r.outage.forbidden])
    } finally {
      await t.close()
    }
  })

  it('express: app-wide sigil() runs before routing, so only the method is known', async () => {
    const app = express()
    app.use(sigilExpress.sigil({ keys, telemetry: telemetry(), onError: () => {} }))
    app.post('/v1/orders/:id', (_req, res) => {
      res.json({ ok: true })
    })
    const t = await listening(createServer(app))
    try {
      const send = sendTo(t.port as number)
      const r = await fourRequests('/v1/orders/42')
      for (const s of Object.values(r)) await send(await wire(s.request))
      await expectFour(undefined)
    } finally {
      await t.close()
    }
  })

  it('hono: the pattern of the route that answers, behind app-wide middleware', async () => {
    const app = new Hono()
    app.use(sigilHono.sigil({ keys, telemetry: telemetry(), onError: () => {} }))
    app.post('/v1/orders/:id', (c) => c.json({ by: c.get('sigil')?.principal }))
    const r = await fourRequests('/v1/orders/42')
    expect((await app.request(r.accepted.request)).status).toBe(200)
    expect((await (await app.request(r.invalid.request)).json()).code).toBe('SIGNATURE_INVALID')
    expect((await (await app.request(r.unknown.request)).json()).code).toBe('KEY_UNKNOWN')
    expect((await app.request(r.outage.request)).status).toBe(503)
    await expectFour('/v1/orders/:id')
    await assertClean([...r.accepted.forbidden, ...r.invalid.forbidden, ...r.unknown.forbidden, ...r.outage.forbidden])
  })

  it('fastify: the route pattern Fastify matched', async () => {
    const app = Fastify()
    await app.register(sigilFastify.sigil, { keys, telemetry: telemetry(), onError: () => {} })
    app.post('/v1/orders/:id', async (req) => ({ by: req.sigil?.principal }))
    try {
      const r = await fourRequests('/v1/orders/42')
      for (const s of Object.values(r)) {
        const w = await wire(s.request)
        await app.inject({ method: 'POST', url: w.target, headers: w.headers, payload: w.body })
      }
      await expectFour('/v1/orders/:id')
      await assertClean([...r.accepted.forbidden, ...r.invalid.forbidden, ...r.unknown.forbidden, ...r.outage.forbidden])
    } finally {
      await app.close()
    }
  })
})

describe('a request that cannot be built for the verifier', () => {
  // Two Host values: 400 COMPONENT_UNRESOLVABLE before any step runs; still one outcome, counted once.
  const ambiguous = (r: Request) => {
    const headers = new Headers(r.headers)
    headers.set('host', 'api.test, other.test')
    return new Request(r.url, { method: r.method, headers })
  }
  const expectOne = async (route: string | undefined) => {
    const { counts } = await collected()
    expect(counts).toEqual([
      {
        attributes: {
          'sigil.verification.result': 'COMPONENT_UNRESOLVABLE',
          'sigil.key.class': 'none',
          'http.request.method': 'GET',
          'error.type': 'COMPONENT_UNRESOLVABLE',
          ...(route === undefined ? {} : { 'http.route': route }),
        },
        value: 1,
      },
    ])
    expect(spans()).toHaveLength(1)
  }

  it('verify()', async () => {
    const verifier = createVerifier({ keys, telemetry: telemetry() })
    const r = await signRequest(new Request(`${ORIGIN}/v1/orders/1`), { keyId: LIVE, secret })
    await expect(verify(ambiguous(r), verifier, { route: '/v1/orders/[id]' })).rejects.toMatchObject({ code: 'COMPONENT_UNRESOLVABLE' })
    await expectOne('/v1/orders/[id]')
  })

  it('hono', async () => {
    const app = new Hono()
    app.use(sigilHono.sigil({ keys, telemetry: telemetry() }))
    app.get('/v1/orders/:id', (c) => c.json({ ok: true }))
    const r = await signRequest(new Request(`${ORIGIN}/v1/orders/1`), { keyId: LIVE, secret })
    expect((await app.request(ambiguous(r))).status).toBe(400)
    await expectOne('/v1/orders/:id')
  })

  it('express: two Host lines on the wire', async () => {
    const app = express()
    app.use(sigilExpress.sigil({ keys, telemetry: telemetry() }))
    app.get('/v1/orders/:id', (_req, res) => {
      res.json({ ok: true })
    })
    const t = await listening(createServer(app))
    try {
      const r = await signRequest(new Request(`${ORIGIN}/v1/orders/1`), { keyId: LIVE, secret })
      let head = 'GET /v1/orders/1 HTTP/1.1\r\nHost: api.test\r\nHost: other.test\r\nConnection: close\r\n'
      r.headers.forEach((v, k) => {
        head += `${k}: ${v}\r\n`
      })
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(t.port as number, '127.0.0.1', () => socket.end(`${head}\r\n`))
        let text = ''
        socket.on('data', (c) => {
          text += c
        })
        socket.on('end', () => resolve(text))
        socket.on('error', reject)
      })
      expect(reply).toMatch(/^HTTP\/1\.1 400 /)
      await expectOne(undefined)
    } finally {
      await t.close()
    }
  })

  it('node withSigil(): a rejection the verifier recorded is not counted again by the adapter', async () => {
    const handler = withSigil({ keys, telemetry: telemetry(), onError: () => {} }, (_req, res) => {
      res.end('ok')
    })
    const t = await listening(createServer(handler))
    try {
      const send = sendTo(t.port as number)
      const r = await fourRequests('/v1/orders/42')
      for (const x of Object.values(r)) {
        const u = new URL(x.request.url)
        const headers: Record<string, string> = { host: u.host }
        x.request.headers.forEach((v, k) => {
          headers[k] = v
        })
        await send({ method: 'POST', target: u.pathname + u.search, headers, body: await x.request.text() })
      }
      await expectFour(undefined)
    } finally {
      await t.close()
    }
  })
})

describe('export to Prometheus (the README recipe)', () => {
  it('serves the counter and the histogram on a scrape, labelled and with no sent text', async () => {
    // The README's `new PrometheusExporter({ port: 9464 })`, on a port of the test's own.
    const exporter = new PrometheusExporter({ preventServerStart: true })
    const provider = new MeterProvider({ readers: [exporter] })
    const app = new Hono()
    app.use(sigilHono.sigil({ keys, telemetry: sigilTelemetry({ meterProvider: provider, tracerProvider }), onError: () => {} }))
    app.post('/v1/orders/:id', (c) => c.json({ ok: true }))
    const r = await fourRequests('/v1/orders/42')
    for (const s of Object.values(r)) await app.request(s.request)
    const server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const text = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).text()
      const lines = text.split('\n')
      const counted = (result: string, keyClass: string) =>
        lines.filter(
          (l) =>
            l.startsWith('sigil_verifications_total{') &&
            l.includes(`sigil_verification_result="${result}"`) &&
            l.includes(`sigil_key_class="${keyClass}"`) &&
            l.includes('http_request_method="POST"') &&
            l.includes('http_route="/v1/orders/:id"') &&
            l.endsWith('} 1'),
        )
      expect(counted('accepted', 'known')).toHaveLength(1)
      expect(counted('SIGNATURE_INVALID', 'known')).toHaveLength(1)
      expect(counted('KEY_UNKNOWN', 'unknown')).toHaveLength(1)
      expect(counted('STORE_UNAVAILABLE', 'unresolved')).toHaveLength(1)
      expect(text).toContain('# TYPE sigil_verification_duration histogram')
      expect(lines.filter((l) => l.startsWith('sigil_verification_duration_bucket{') && l.includes('le="+Inf"} 1'))).toHaveLength(4)
      for (const f of Object.values(r).flatMap((s) => s.forbidden)) expect(text).not.toContain(f)
    } finally {
      server.close()
      await provider.shutdown()
    }
  })
})

describe('@opentelemetry/api stays optional', () => {
  it('only the otel entry imports it', async () => {
    const entries = [
      'index.ts',
      'adapters/express/index.ts',
      'adapters/hono/index.ts',
      'adapters/fastify/index.ts',
      'adapters/node/index.ts',
      'adapters/msw/index.ts',
      'rate-limit.ts',
      'otel.ts',
    ]
    const imported: Record<string, string[]> = {}
    for (const entry of entries) {
      const seen: string[] = []
      await build({
        entryPoints: [new URL(`../../packages/server/src/${entry}`, import.meta.url).pathname],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'esm',
        conditions: ['source'],
        logLevel: 'silent',
        plugins: [
          {
            name: 'record-otel',
            setup(b) {
              b.onResolve({ filter: /^@opentelemetry\// }, (a) => {
                seen.push(a.path)
                return { path: a.path, external: true }
              })
              b.onResolve({ filter: /^(express|fastify|hono|msw|rate-limiter-flexible)(\/|$)/ }, (a) => ({ path: a.path, external: true }))
            },
          },
        ],
      })
      imported[entry] = seen
    }
    expect(imported).toEqual(Object.fromEntries(entries.map((e) => [e, e === 'otel.ts' ? ['@opentelemetry/api'] : []])))
  })
})
