// One library in its own process (issue 13): `micro-child.ts <entry> <sizes> <rounds> <timeMs>`
// measures that entry and the floor, batch by batch in alternation, every round; prints one JSON
// line of samples. Every operation is warmed up, then timed in fixed-size batches with hrtime; a
// round's ratio is the median over adjacent (entry, floor) batch pairs, which keeps the ratio
// steady on a machine whose load changes from second to second. Verify inputs are signed and put on the "wire" (`toWire`) before each batch,
// outside the timed region. Sign + verify is the sum of the two per round (an interleaved
// sign → toWire → verify loop gave erratic figures on a loaded machine: the garbage of the wire
// copies landed on whichever operation ran next).
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
  if (impl.async) {
    if (op === 'sign') for (let i = 0; i < batch; i++) await impl.sign()
    else for (let i = 0; i < batch; i++) await impl.verify((wires as Wire[])[i] as Wire)
  } else {
    if (op === 'sign') for (let i = 0; i < batch; i++) impl.sign()
    else for (let i = 0; i < batch; i++) impl.verify((wires as Wire[])[i] as Wire)
  }
  return Number(process.hrtime.bigint() - t) / 1000 / batch
}

async function warm(impl: Impl, op: Op, body: Buffer, batch: number): Promise<void> {
  const until = performance.now() + 700
  for (let n = 0; n < 100 || performance.now() < until; n++) await once(impl, op, body, batch)
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
    // Warm-up: long enough for V8 to finish optimizing. On a loaded machine its background
    // compiler thread gets little CPU, and a large code path (Sigil's verifier) can run
    // unoptimized for seconds, 10x slower, in some rounds and not others.
    for (const op of ['sign', 'verify'] as const) await warm(e, op, body, batch)
  }
  const bySize = new Map<Op, ChildSample>()
  for (const op of ['sign', 'verify', 'both'] as const) bySize.set(op, { size, op, us: [], floorUs: [], ratios: [] })
  for (let round = 0; round < rounds; round++) {
    for (const op of ['sign', 'verify'] as const) {
      const s = bySize.get(op) as ChildSample
      const r = await pairs(impl, floorImpl, op, body, batch, timeMs)
      s.us.push(r.us)
      s.floorUs.push(r.floorUs)
      s.ratios.push(r.ratio)
    }
    // Sign + verify per request: the sum of the two, against the floor's sum in the same round.
    const sg = bySize.get('sign') as ChildSample
    const vf = bySize.get('verify') as ChildSample
    const both = bySize.get('both') as ChildSample
    both.us.push((sg.us[round] as number) + (vf.us[round] as number))
    both.floorUs.push((sg.floorUs[round] as number) + (vf.floorUs[round] as number))
    both.ratios.push(
      ((sg.ratios[round] as number) * (sg.floorUs[round] as number) + (vf.ratios[round] as number) * (vf.floorUs[round] as number)) /
        (both.floorUs[round] as number),
    )
  }
  samples.push(...bySize.values())
}
process.stdout.write(`${JSON.stringify(samples)}\n`)
