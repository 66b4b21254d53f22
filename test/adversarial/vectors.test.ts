import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { receive, signSpec, type Vector } from './harness.js'
import { deliverIncoming, startServer, verifierFor } from './transports.js'
import vectors from './vectors.json' with { type: 'json' }

const cases = vectors.cases as Vector[]

describe('adversarial vectors', () => {
  let server: Awaited<ReturnType<typeof startServer>>
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(() => server.close())

  it('every vector names its source and why', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60)
    for (const v of cases) {
      expect(v.source, v.name).toBeTruthy()
      expect(v.why, v.name).toBeTruthy()
    }
    expect(new Set(cases.map((v) => v.name)).size).toBe(cases.length)
  })

  for (const v of cases) {
    const transports = v.transports ?? ['incoming', 'socket']
    if (transports.includes('incoming')) {
      it(`[incoming] ${v.name} → ${v.expect}`, async () => {
        const verifier = verifierFor(v)
        if (v.prior) expect(await deliverIncoming(await signSpec(v.prior.request, v.prior.sign), verifier)).toBe('accepted')
        const wire = await receive(await signSpec(v.request, v.sign), v.received)
        expect(await deliverIncoming(wire, verifier)).toBe(v.expect)
      })
    }
    if (transports.includes('socket')) {
      it(`[socket] ${v.name} → ${v.socket ?? v.expect}`, async () => {
        server.use(verifierFor(v))
        if (v.prior) expect(await server.send(await signSpec(v.prior.request, v.prior.sign))).toBe('accepted')
        const wire = await receive(await signSpec(v.request, v.sign), v.received)
        expect(await server.send(wire)).toBe(v.socket ?? v.expect)
      })
    }
  }
})
