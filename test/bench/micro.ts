// Sign / verify / both per implementation and body size, as ratios to the node:crypto floor.
// Every tinybench iteration runs a batch of operations (timer overhead amortised); verify batches
// are signed in `beforeEach`, outside the timed region. Rounds interleave all entries so drift
// over minutes hits everyone alike; we report the median of the per-round ratios.
import { Bench } from 'tinybench'
import { jsonBody, sizeLabel } from './fixtures.js'
import { allImpls, type Impl, sigilBaseLength } from './impls.js'

export type Op = 'sign' | 'verify' | 'both'

/** One row of the micro table. */
export interface MicroRow {
  size: number
  sizeLabel: string
  name: string
  kind: Impl['kind']
  covers: string
  op: Op
  /** Median over rounds of the median time per operation, in microseconds. */
  usPerOp: number
  opsPerSec: number
  /** Median over rounds of (this entry's time / the floor's time in the same round). */
  ratio: number
}

export interface MicroOptions {
  sizes: number[]
  rounds: number
  /** Tinybench time budget per task and round, ms. */
  timeMs: number
  only?: (name: string) => boolean
  log?: (s: string) => void
}

function batchFor(size: number): number {
  if (size <= 4096) return 32
  if (size <= 128 * 1024) return 8
  return 1
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function sanity(impl: Impl): Promise<void> {
  const signed = await impl.sign()
  await impl.verify(signed)
}

function addTasks(bench: Bench, impl: Impl, batch: number, ops: readonly Op[]): void {
  const pending: unknown[] = []
  const prepare = async () => {
    pending.length = 0
    for (let i = 0; i < batch; i++) pending.push(await impl.sign())
  }
  if (impl.async) {
    if (ops.includes('sign')) {
      bench.add(`${impl.name}|sign`, async () => {
        for (let i = 0; i < batch; i++) await impl.sign()
      })
    }
    if (ops.includes('verify')) {
      bench.add(
        `${impl.name}|verify`,
        async () => {
          for (let i = 0; i < batch; i++) await impl.verify(pending[i])
        },
        { beforeEach: prepare },
      )
    }
    if (ops.includes('both')) {
      bench.add(`${impl.name}|both`, async () => {
        for (let i = 0; i < batch; i++) await impl.verify(await impl.sign())
      })
    }
  } else {
    if (ops.includes('sign')) {
      bench.add(`${impl.name}|sign`, () => {
        for (let i = 0; i < batch; i++) impl.sign()
      })
    }
    if (ops.includes('verify')) {
      bench.add(
        `${impl.name}|verify`,
        () => {
          for (let i = 0; i < batch; i++) impl.verify(pending[i])
        },
        { beforeEach: prepare },
      )
    }
    if (ops.includes('both')) {
      bench.add(`${impl.name}|both`, () => {
        for (let i = 0; i < batch; i++) impl.verify(impl.sign())
      })
    }
  }
}

/** Run the micro benchmark; rows for every size, entry and operation. */
export async function runMicro(o: MicroOptions): Promise<MicroRow[]> {
  const log = o.log ?? (() => {})
  const rows: MicroRow[] = []
  for (const size of o.sizes) {
    const body = Buffer.from(jsonBody(size))
    const impls = allImpls(body, await sigilBaseLength(body)).filter((i) => i.kind === 'floor' || !o.only || o.only(i.name))
    for (const impl of impls) await sanity(impl)
    const batch = batchFor(size)
    const perOp = new Map<string, number[]>()
    const ratios = new Map<string, number[]>()
    for (let round = 0; round < o.rounds; round++) {
      const bench = new Bench({ time: o.timeMs, warmupTime: Math.min(50, o.timeMs), warmup: true })
      // Rotate the order each round so no entry always runs first (JIT, GC, drift).
      const order = impls.map((_, i) => impls[(i + round) % impls.length] as Impl)
      for (const impl of order) {
        impl.reset?.()
        addTasks(bench, impl, batch, impl.kind === 'floor' ? ['sign', 'verify', 'both'] : ['sign', 'verify', 'both'])
      }
      await bench.run()
      const us = new Map<string, number>()
      for (const t of bench.tasks) {
        const r = t.result
        if (r.state !== 'completed') throw new Error(`${t.name} ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`)
        us.set(t.name, (r.latency.p50 * 1000) / batch)
      }
      const floorUs = us.get('floor (node:crypto)|verify') as number
      for (const [name, v] of us) {
        perOp.set(name, [...(perOp.get(name) ?? []), v])
        ratios.set(name, [...(ratios.get(name) ?? []), v / floorUs])
      }
      log(`  ${sizeLabel(size)} round ${round + 1}/${o.rounds}: floor ${floorUs.toFixed(2)} µs/op`)
    }
    for (const impl of impls) {
      for (const op of ['sign', 'verify', 'both'] as const) {
        const key = `${impl.name}|${op}`
        const u = perOp.get(key)
        if (!u) continue
        const usPerOp = median(u)
        rows.push({
          size,
          sizeLabel: sizeLabel(size),
          name: impl.name,
          kind: impl.kind,
          covers: impl.covers,
          op,
          usPerOp,
          opsPerSec: 1e6 / usPerOp,
          ratio: median(ratios.get(key) as number[]),
        })
      }
    }
  }
  return rows
}
