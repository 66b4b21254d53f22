// One library in its own process (issue 13): `micro-child.ts <entry> <sizes> <rounds> <timeMs>`
// measures that entry and both floors (the floor and the minimal floor, issue 32), batch by batch
// in rotation, every round; prints one JSON line of samples. Every operation is warmed up, then
// timed in fixed-size batches with hrtime; a round's ratio to each floor is the median over
// adjacent (entry, floor) batch pairs, which keeps the ratio steady on a machine whose load
// changes from second to second. Verify inputs are signed and put on the "wire" (`toWire`) before
// each batch, outside the timed region. Sign + verify ('both') is the sum of the two per round.
// The sign-then-verify loop ('loop', issue 32) is one operation on the clock: a fresh signature,
// the node-shaped request built from it once (`toWire`, which every entry and floor pays alike),
// then its verification.
import { jsonBody } from './fixtures.js'
import { allImpls, type Impl, toWire, type Wire } from './impls.js'

export type Op = 'sign' | 'verify' | 'both' | 'loop'

/** Per size and op: the entry's and the floor's µs per operation in each round. */
export interface ChildSample {
  size: number
  op: Op
  us: number[]
  floorUs: number[]
  /** Per round: median of (entry batch ÷ the floor batch right beside it). */
  ratios: number[]
  /** The same against the minimal floor (issue 32). */
  minFloorUs: number[]
  minRatios: number[]
  /** Load average (1 min) when the size's measurement started and ended. */
  load: [number, number]
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
  for (let i = 0; i < n; i++) {
    const w = toWire(await impl.sign(), body)
    out.push(impl.receive ? impl.receive(w) : w)
  }
  return out
}

/** µs per op of one batch. */
async function once(impl: Impl, op: Op, body: Buffer, batch: number): Promise<number> {
  const wires = op === 'verify' ? await prepare(impl, body, batch) : undefined
  const t = process.hrtime.bigint()
  if (op === 'loop') {
    // Sign, build the request the network delivers (once per signed request), verify it.
    if (impl.async)
      for (let i = 0; i < batch; i++) {
        const w = toWire(await impl.sign(), body)
        await impl.verify(impl.receive ? impl.receive(w) : w)
      }
    else
      for (let i = 0; i < batch; i++) {
        const w = toWire(impl.sign() as Record<string, string>, body)
        impl.verify(impl.receive ? impl.receive(w) : w)
      }
  } else if (impl.async) {
    if (op === 'sign') for (let i = 0; i < batch; i++) await impl.sign()
    else for (let i = 0; i < batch; i++) await impl.verify((wires as Wire[])[i] as Wire)
  } else {
    if (op === 'sign') for (let i = 0; i < batch; i++) impl.sign()
    else for (let i = 0; i < batch; i++) impl.verify((wires as Wire[])[i] as Wire)
  }
  return Number(process.hrtime.bigint() - t) / 1000 / batch
}

async function warm(impl: Impl, op: Op, body: Buffer, batch: number, ms: number): Promise<void> {
  const until = performance.now() + ms
  for (let n = 0; n < 100 || performance.now() < until; n++) await once(impl, op, body, batch)
}

/**
 * One round: batches of the entry, the floor and the minimal floor take turns for `ms` (at least 7
 * triples), so load from other processes lands on all alike; the round's ratio to each floor is the
 * median of the ratios of adjacent batches.
 */
async function pairs(impl: Impl, floorImpl: Impl, minImpl: Impl, op: Op, body: Buffer, batch: number, ms: number) {
  const us: number[] = []
  const floorUs: number[] = []
  const minUs: number[] = []
  const ratios: number[] = []
  const minRatios: number[] = []
  const until = performance.now() + 2 * ms
  impl.reset?.()
  floorImpl.reset?.()
  minImpl.reset?.()
  // All six orders in turn, so no one always runs right after the same neighbour (and its garbage).
  const orders = [
    [impl, floorImpl, minImpl],
    [minImpl, floorImpl, impl],
    [floorImpl, minImpl, impl],
    [impl, minImpl, floorImpl],
    [minImpl, impl, floorImpl],
    [floorImpl, impl, minImpl],
  ]
  while (ratios.length < 7 || performance.now() < until) {
    const t = new Map<Impl, number>()
    for (const e of orders[ratios.length % 6] as Impl[]) t.set(e, await once(e, op, body, batch))
    const u = t.get(impl) as number
    const f = t.get(floorImpl) as number
    const m = t.get(minImpl) as number
    us.push(u)
    floorUs.push(f)
    minUs.push(m)
    ratios.push(u / f)
    minRatios.push(u / m)
  }
  return { us: median(us), floorUs: median(floorUs), ratio: median(ratios), minFloorUs: median(minUs), minRatio: median(minRatios) }
}

const load = async () => (await import('node:os')).loadavg()[0] as number

const samples: ChildSample[] = []
for (const size of sizesArg.split(',').map(Number)) {
  const body = Buffer.from(jsonBody(size))
  const impls = allImpls(body)
  const floorImpl = impls[0] as Impl
  const minImpl = impls[1] as Impl
  const impl = impls.find((i) => i.name === name)
  if (!impl) continue // e.g. Stripe has no 0 B entry
  const loadStart = await load()
  const batch = batchFor(size)
  for (const e of new Set([floorImpl, minImpl, impl])) {
    await e.verify(toWire(await e.sign(), body)) // sanity: a real signature that verifies
    // Warm-up: long enough for V8 to finish optimizing. On a loaded machine its background
    // compiler thread gets little CPU, and a large code path (Sigil's verifier) can run
    // unoptimized for seconds, 10x slower, in some rounds and not others.
    // The floors are small and settle fast; the loop runs code the sign and verify warm-ups ran.
    for (const op of ['sign', 'verify', 'loop'] as const) await warm(e, op, body, batch, e === impl && op !== 'loop' ? 700 : 300)
  }
  const bySize = new Map<Op, ChildSample>()
  for (const op of ['sign', 'verify', 'both', 'loop'] as const)
    bySize.set(op, { size, op, us: [], floorUs: [], ratios: [], minFloorUs: [], minRatios: [], load: [loadStart, 0] })
  for (let round = 0; round < rounds; round++) {
    for (const op of ['sign', 'verify', 'loop'] as const) {
      const s = bySize.get(op) as ChildSample
      const r = await pairs(impl, floorImpl, minImpl, op, body, batch, timeMs)
      s.us.push(r.us)
      s.floorUs.push(r.floorUs)
      s.ratios.push(r.ratio)
      s.minFloorUs.push(r.minFloorUs)
      s.minRatios.push(r.minRatio)
    }
    // Sign + verify per request: the sum of the two, against each floor's sum in the same round.
    const sg = bySize.get('sign') as ChildSample
    const vf = bySize.get('verify') as ChildSample
    const both = bySize.get('both') as ChildSample
    const at = (xs: number[]) => xs[round] as number
    both.us.push(at(sg.us) + at(vf.us))
    both.floorUs.push(at(sg.floorUs) + at(vf.floorUs))
    both.minFloorUs.push(at(sg.minFloorUs) + at(vf.minFloorUs))
    both.ratios.push((at(sg.ratios) * at(sg.floorUs) + at(vf.ratios) * at(vf.floorUs)) / at(both.floorUs))
    both.minRatios.push((at(sg.minRatios) * at(sg.minFloorUs) + at(vf.minRatios) * at(vf.minFloorUs)) / at(both.minFloorUs))
  }
  const loadEnd = await load()
  for (const s of bySize.values()) s.load[1] = loadEnd
  samples.push(...bySize.values())
}
process.stdout.write(`${JSON.stringify(samples)}\n`)
