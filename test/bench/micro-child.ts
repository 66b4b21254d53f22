// One library in its own process (issue 13): `micro-child.ts <entry> <sizes> <rounds> <timeMs>`
// measures that entry and the floor, batch by batch in alternation, every round; prints one JSON
// line of samples. Every operation is warmed up, then timed in fixed-size batches with hrtime; a
// round's ratio is the median over adjacent (entry, floor) batch pairs, which keeps the ratio
// steady on a machine whose load changes from second to second. Verify inputs are signed and put on the "wire" (`toWire`) before each batch,
// outside the timed region; sign+verify runs sign → toWire → verify per request, with the clock
// stopped during toWire, for every entry and the floor alike.
import { jsonBody } from './fixtures.js'
import { allImpls, type Impl, toWire, type Wire } from './impls.js'

export type Op = 'sign' | 'verify' | 'both'

/** Per size and op: the entry's and the floor's µs per operation in each round. */
export interface ChildSample {
  size: number
  op: Op
  us: number[]
  floorUs: number[]
  /** Per round: median of (entry batch ÷ the floor batch right beside it). */
  ratios: number[]
}

const [name = 'Sigil', sizesArg = '1024', roundsArg = '5', timeArg = '60'] = process.argv.slice(2)
const rounds = Number(roundsArg)
const timeMs = Number(timeArg)

function batchFor(size: number): number {
  if (size <= 4096) return 64
  if (size <= 128 * 1024) return 8
  return 1
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function prepare(impl: Impl, body: Buffer, n: number): Promise<Wire[]> {
  const out: Wire[] = []
  for (let i = 0; i < n; i++) out.push(toWire(await impl.sign(), body))
  return out
}

/** µs per op of one batch. */
async function once(impl: Impl, op: Op, body: Buffer, batch: number): Promise<number> {
  {
    const wires = op === 'verify' ? await prepare(impl, body, batch) : undefined
    let us = 0
    if (op === 'both') {
      // The wire copy stands for the network; it is nobody's cost, so it stays off the clock.
      for (let i = 0; i < batch; i++) {
        const a = performance.now()
        const signed = impl.async ? await impl.sign() : impl.sign()
        const b = performance.now()
        const wire = toWire(signed as Record<string, string>, body)
        const c = performance.now()
        if (impl.async) await impl.verify(wire)
        else impl.verify(wire)
        us += (performance.now() - c + (b - a)) * 1000
      }
    } else {
      const t = process.hrtime.bigint()
      if (impl.async) {
        if (op === 'sign') for (let i = 0; i < batch; i++) await impl.sign()
        else for (let i = 0; i < batch; i++) await impl.verify((wires as Wire[])[i] as Wire)
      } else {
        if (op === 'sign') for (let i = 0; i < batch; i++) impl.sign()
        else for (let i = 0; i < batch; i++) impl.verify((wires as Wire[])[i] as Wire)
      }
      us = Number(process.hrtime.bigint() - t) / 1000
    }
    return us / batch
  }
}

/** Median µs per op over batches run for `ms` (at least 5 batches). */
async function time(impl: Impl, op: Op, body: Buffer, batch: number, ms: number): Promise<number> {
  const perOp: number[] = []
  const until = performance.now() + ms
  while (perOp.length < 5 || performance.now() < until) perOp.push(await once(impl, op, body, batch))
  return median(perOp)
}

/**
 * One round: batches of the entry and of the floor alternate for `ms` (at least 7 pairs), so load
 * from other processes lands on both alike; the round's ratio is the median of the pair ratios.
 */
async function pairs(impl: Impl, floorImpl: Impl, op: Op, body: Buffer, batch: number, ms: number) {
  const us: number[] = []
  const floorUs: number[] = []
  const ratios: number[] = []
  const until = performance.now() + 2 * ms
  impl.reset?.()
  floorImpl.reset?.()
  while (ratios.length < 7 || performance.now() < until) {
    const flip = ratios.length % 2 === 1
    const a = await once(flip ? floorImpl : impl, op, body, batch)
    const b = await once(flip ? impl : floorImpl, op, body, batch)
    const u = flip ? b : a
    const f = flip ? a : b
    us.push(u)
    floorUs.push(f)
    ratios.push(u / f)
  }
  return { us: median(us), floorUs: median(floorUs), ratio: median(ratios) }
}

const samples: ChildSample[] = []
for (const size of sizesArg.split(',').map(Number)) {
  const body = Buffer.from(jsonBody(size))
  const impls = allImpls(body)
  const floorImpl = impls[0] as Impl
  const impl = impls.find((i) => i.name === name)
  if (!impl) continue // e.g. Stripe has no 0 B entry
  const batch = batchFor(size)
  for (const e of [floorImpl, impl]) {
    await e.verify(toWire(await e.sign(), body)) // sanity: a real signature that verifies
    for (const op of ['sign', 'verify', 'both'] as const) await time(e, op, body, batch, 3 * timeMs) // warm-up
  }
  const bySize = new Map<Op, ChildSample>()
  for (const op of ['sign', 'verify', 'both'] as const) bySize.set(op, { size, op, us: [], floorUs: [], ratios: [] })
  for (let round = 0; round < rounds; round++) {
    for (const op of ['sign', 'verify', 'both'] as const) {
      const s = bySize.get(op) as ChildSample
      const r = await pairs(impl, floorImpl, op, body, batch, timeMs)
      s.us.push(r.us)
      s.floorUs.push(r.floorUs)
      s.ratios.push(r.ratio)
    }
  }
  samples.push(...bySize.values())
}
process.stdout.write(`${JSON.stringify(samples)}\n`)
