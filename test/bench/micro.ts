// Sign / verify / both / the sign-then-verify loop per entry and body size, as ratios to both
// floors (the floor and the minimal floor of issue 32) measured in the same process. Each entry runs in its own child process (micro-child.ts) with the floor beside it, so
// no library's JIT state, caches or garbage lands on another's clock; the passes repeat that, in a
// rotated order, and we report the median over passes of the per-pass median of per-round ratios.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { bundleScript } from './bundle.js'
import { jsonBody, sizeLabel } from './fixtures.js'
import { allImpls, type Impl } from './impls.js'
import type { ChildSample, Op } from './micro-child.js'

export type { Op }

/** One row of the micro table. */
export interface MicroRow {
  size: number
  sizeLabel: string
  name: string
  kind: Impl['kind']
  covers: string
  op: Op
  /** Median over all rounds of all passes, µs per operation. */
  usPerOp: number
  /** The floor's same operation, measured beside it (median, µs). */
  floorUs: number
  opsPerSec: number
  /** Median over passes of the per-pass median over rounds of the median (entry batch ÷ adjacent floor batch). */
  ratio: number
  /** Per-pass ratios, to show the spread. */
  passRatios: number[]
  /** The minimal floor's same operation, measured beside it (median, µs). */
  minFloorUs: number
  /** As `ratio`, against the minimal floor. */
  minRatio: number
  minPassRatios: number[]
  /** Load average (1 min) at the start and end of each pass's child, for this size. */
  passLoads: [number, number][]
}

export interface MicroOptions {
  sizes: number[]
  rounds: number
  /** Process-isolated passes per entry. */
  passes: number
  /** Time budget per operation, entry and round, ms. */
  timeMs: number
  only?: (name: string) => boolean
  /** Exact entry names to run (floors included only when named); overrides `only`. */
  entries?: string[]
  log?: (s: string) => void
}

const here = fileURLToPath(new URL('.', import.meta.url))

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function child(script: string, name: string, o: MicroOptions): Promise<ChildSample[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, name, o.sizes.join(','), String(o.rounds), String(o.timeMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => {
      out += d
    })
    p.stderr.on('data', (d) => {
      err += d
    })
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`${name}: child exited ${code}: ${err.slice(-2000)}`))
      else resolve(JSON.parse(out.trim().split('\n').pop() as string) as ChildSample[])
    })
  })
}

/** Run the micro benchmark; rows for every size, entry and operation. */
export async function runMicro(o: MicroOptions): Promise<MicroRow[]> {
  const log = o.log ?? (() => {})
  // Names and descriptions from one instantiation (the 1 KiB set has every entry).
  const entries = allImpls(Buffer.from(jsonBody(1024))).filter((i) =>
    o.entries ? o.entries.includes(i.name) : i.kind === 'floor' || !o.only || o.only(i.name),
  )
  const byEntry = new Map<string, ChildSample[][]>()
  const script = await bundleScript(`${here}micro-child.ts`)
  for (let pass = 0; pass < o.passes; pass++) {
    const order = entries.map((_, i) => entries[(i + pass) % entries.length] as Impl)
    for (const e of order) {
      const t0 = performance.now()
      const samples = await child(script, e.name, o)
      byEntry.set(e.name, [...(byEntry.get(e.name) ?? []), samples])
      const first = samples.find((s) => s.op === 'loop')
      const ratio = first
        ? ` ${sizeLabel(first.size)} sign→verify loop ${median(first.ratios).toFixed(2)}× floor, ${median(first.minRatios).toFixed(2)}× minimal floor`
        : ''
      const loads = samples.filter((s) => s.op === 'loop').flatMap((s) => s.load)
      log(
        `  pass ${pass + 1}/${o.passes} ${e.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s${ratio} (load avg ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)})`,
      )
    }
  }
  const rows: MicroRow[] = []
  for (const size of o.sizes) {
    for (const e of entries) {
      for (const op of ['sign', 'verify', 'both', 'loop'] as const) {
        const passes = (byEntry.get(e.name) ?? [])
          .map((ss) => ss.find((s) => s.size === size && s.op === op))
          .filter((s) => s !== undefined)
        if (passes.length === 0) continue
        const passRatios = passes.map((s) => median(s.ratios))
        const usPerOp = median(passes.flatMap((s) => s.us))
        rows.push({
          size,
          sizeLabel: sizeLabel(size),
          name: e.name,
          kind: e.kind,
          covers: e.covers,
          op,
          usPerOp,
          floorUs: median(passes.flatMap((s) => s.floorUs)),
          opsPerSec: 1e6 / usPerOp,
          ratio: median(passRatios),
          passRatios,
          minFloorUs: median(passes.flatMap((s) => s.minFloorUs)),
          minRatio: median(passes.map((s) => median(s.minRatios))),
          minPassRatios: passes.map((s) => median(s.minRatios)),
          passLoads: passes.map((s) => s.load),
        })
      }
    }
  }
  return rows
}
