// Where the time of one operation goes, by step (issue 32): `tsx test/bench/steps.ts <entry> <op>
// <size> [n] [depth]`, op sign | verify | loop. Runs profile.ts as built code (bundled like the micro
// children, plain node), then prints the profile as a call tree of inclusive time in µs per
// operation, from the timed loop down `depth` levels (frames under 0.1 µs/op left out), and the
// inclusive time of every function anywhere in the tree (recursion counted once). µs come from the
// profile (samples × interval ÷ n), so they include the profiler's own ~5-10%.
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { bundleScript } from './bundle.js'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

const [name = 'Sigil', op = 'verify', size = '1024', nArg = '100000', depthArg = '6'] = process.argv.slice(2)
const here = fileURLToPath(new URL('.', import.meta.url))
const script = await bundleScript(`${here}profile.ts`)
const out = `${tmpdir()}/sigil-steps-${process.pid}.cpuprofile`
const r = spawnSync(process.execPath, [script, name, op === 'loop' ? 'both' : op, size, nArg, out], { encoding: 'utf8' })
if (r.status !== 0) throw new Error(`profile.ts failed: ${r.stderr}`)
process.stdout.write(r.stdout)
const prof = JSON.parse(readFileSync(out, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] }
rmSync(out)

const n = Number(nArg)
const self = new Map<number, number>()
prof.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
})
const byId = new Map(prof.nodes.map((x) => [x.id, x]))
const inclusive = new Map<number, number>()
const total = (id: number): number => {
  const known = inclusive.get(id)
  if (known !== undefined) return known
  const x = byId.get(id) as Node
  const t = (self.get(id) ?? 0) + (x.children ?? []).reduce((s, c) => s + total(c), 0)
  inclusive.set(id, t)
  return t
}
const label = (x: Node) => {
  const url = x.callFrame.url.replace(/^.*\/(node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?)?/, '')
  return `${x.callFrame.functionName || '(anonymous)'} ${url}${url ? `:${x.callFrame.lineNumber + 1}` : ''}`
}
const us = (t: number) => t / n // profile times are µs; per operation

const all = prof.nodes.reduce((s, x) => s + (self.get(x.id) ?? 0), 0)
console.log(`profile: ${us(all).toFixed(2)} µs/op over ${n} ops (profiler included)`)
// The timed loop: profile.ts's `loop`.
const root = prof.nodes.find((x) => x.callFrame.functionName === 'loop')
const depth = Number(depthArg)
const print = (id: number, d: number) => {
  const x = byId.get(id) as Node
  const t = total(id)
  if (us(t) < 0.1) return
  console.log(`${'  '.repeat(d)}${us(t).toFixed(2).padStart(6)} µs  (self ${us(self.get(id) ?? 0).toFixed(2)})  ${label(x)}`)
  if (d < depth) for (const c of [...(x.children ?? [])].sort((a, b) => total(b) - total(a))) print(c, d + 1)
}
if (root) print(root.id, 0)
// Async continuations (after an await) start at the top of the stack, outside `loop`.
for (const x of prof.nodes.filter((y) => y.callFrame.functionName === '(root)')) {
  for (const c of x.children ?? []) {
    const cx = byId.get(c) as Node
    if (
      cx.callFrame.functionName !== '(program)' &&
      cx.callFrame.functionName !== '(idle)' &&
      cx !== root &&
      !cx.children?.includes(root?.id ?? -1)
    )
      print(c, 0)
  }
}

// Per function, wherever it is called from (recursion counted once).
const parent = new Map<number, number>()
for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
const perFn = new Map<string, number>()
for (const x of prof.nodes) {
  const l = label(x)
  let p = parent.get(x.id)
  let nested = false
  while (p !== undefined) {
    if (label(byId.get(p) as Node) === l) {
      nested = true
      break
    }
    p = parent.get(p)
  }
  if (!nested) perFn.set(l, (perFn.get(l) ?? 0) + total(x.id))
}
console.log('\ninclusive, per function (top 40):')
for (const [l, t] of [...perFn].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${us(t).toFixed(2).padStart(6)} µs  ${l}`)
