// Summarise a .cpuprofile: top frames by self time. `tsx test/bench/top-frames.ts file.cpuprofile [n]`
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
const [file, nArg = '25'] = process.argv.slice(2)
const prof = JSON.parse(readFileSync(file as string, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] }
const self = new Map<number, number>()
prof.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
})
const byFrame = new Map<string, number>()
let total = 0
for (const n of prof.nodes) {
  const t = self.get(n.id) ?? 0
  total += t
  const url = n.callFrame.url.replace(/^.*\/(node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?)?/, '')
  const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`
  byFrame.set(key, (byFrame.get(key) ?? 0) + t)
}
const top = [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg))
for (const [k, t] of top) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`)
