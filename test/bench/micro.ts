// Sign / verify / both per entry and body size, as ratios to the floor measured in the same
// process. Each entry runs in its own child process (micro-child.ts) with the floor beside it, so
// no library's JIT state, caches or garbage lands on another's clock; the passes repeat that, in a
// rotated order, and we report the median over passes of the per-pass median of per-round ratios.
import { spawn } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
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
}

export interface MicroOptions {
  sizes: number[]
  rounds: number
  /** Process-isolated passes per entry. */
  passes: number
  /** Time budget per operation, entry and round, ms. */
  timeMs: number
  only?: (name: string) => boolean
  log?: (s: string) => void
}

const here = fileURLToPath(new URL('.', import.meta.url))

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/**
 * micro-child.ts as one ES module, built as tsup builds the packages (esbuild, no `keepNames`),
 * with Sigil's packages from their sources and every other package as installed. The children ran
 * under tsx before, which compiles with `keepNames`: every closure a call creates then costs an
 * `Object.defineProperty` (`__name`) that no application running the built packages pays — 4-8% of
 * Sigil's sign and verify profiles, and nothing for the peers, which tsx loads from node_modules
 * untouched.
 */
async function bundleChild(): Promise<string> {
  const out = `${here}.build/micro-child.mjs`
  const root = fileURLToPath(new URL('../../', import.meta.url))
  // The directory of the package `name` as seen from `dir` (node's lookup: the nearest node_modules).
  const packageDir = (name: string, dir: string): string | undefined => {
    for (let d = dir; ; d = dirname(d)) {
      const candidate = join(d, 'node_modules', name)
      if (existsSync(candidate)) return realpathSync(candidate)
      if (dirname(d) === d) return undefined
    }
  }
  // Installed at the root, and the importer would load that same copy.
  const installed = (spec: string, importer: string): boolean => {
    const name = spec
      .split('/')
      .slice(0, spec.startsWith('@') ? 2 : 1)
      .join('/')
    const atRoot = packageDir(name, root)
    return atRoot !== undefined && atRoot === packageDir(name, dirname(importer))
  }
  await build({
    entryPoints: [`${here}micro-child.ts`],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['source'],
    logLevel: 'warning',
    // The CommonJS peers (aws4, Hawk, Stripe) are loaded with require(), as in impls.ts.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    plugins: [
      {
        name: 'installed-packages-external',
        setup(b) {
          // Bare imports other than @sigil/* stay imports of the installed package; a dependency of
          // one of Sigil's packages that the root does not install (@noble/hashes) is bundled.
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith('@sigil/')
              ? undefined
              : a.path.startsWith('node:') || installed(a.path, a.importer)
                ? { path: a.path, external: true }
                : undefined,
          )
        },
      },
    ],
  })
  return out
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
  const entries = allImpls(Buffer.from(jsonBody(1024))).filter((i) => i.kind === 'floor' || !o.only || o.only(i.name))
  const byEntry = new Map<string, ChildSample[][]>()
  const script = await bundleChild()
  for (let pass = 0; pass < o.passes; pass++) {
    const order = entries.map((_, i) => entries[(i + pass) % entries.length] as Impl)
    for (const e of order) {
      const t0 = performance.now()
      const samples = await child(script, e.name, o)
      byEntry.set(e.name, [...(byEntry.get(e.name) ?? []), samples])
      const kib = samples.find((s) => s.size === 1024 && s.op === 'both')
      const ratio = kib ? ` 1 KiB sign+verify ${median(kib.ratios).toFixed(2)}×` : ''
      log(`  pass ${pass + 1}/${o.passes} ${e.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s${ratio}`)
    }
  }
  const rows: MicroRow[] = []
  for (const size of o.sizes) {
    for (const e of entries) {
      for (const op of ['sign', 'verify', 'both'] as const) {
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
        })
      }
    }
  }
  return rows
}
