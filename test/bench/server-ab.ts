// Server pairs on a shared machine: `tsx --conditions=source test/bench/server-ab.ts
// --runs=node-sigil,node-floor [--slices=15] [--slice=1] [--rate=N] [--profile=DIR] [--each] [--warm=2]`.
// Every server of `--runs` is started once and warmed up, then loaded in short slices, one after
// the other (the order rotating each slice), so a burst of other work on the machine lands on
// both sides of a pair rather than on one run; the ratio is the median over slices of each
// slice's pair (server ÷ its framework's floor). A run may name a built bundle,
// `node-sigil@ab-before.mjs` (in test/bench/.build), to compare two versions of the code the same
// way. Prints req/s and server CPU µs per request (user + system) per run (`--each`: per slice, req/s/µs). Writes no results file.
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { jsonBody } from './fixtures.js'
import { sigilBaseLength } from './impls.js'
import { ask, cpuOf, load, type ServerKind, serverScript, startChild } from './server.js'

const args = process.argv.slice(2)
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const runs = (value('runs') ?? 'node-sigil,node-floor').split(',')
const slices = Number(value('slices') ?? 15)
const sliceS = Number(value('slice') ?? 1)
const rate = value('rate') ? Number(value('rate')) : undefined
const profileDir = value('profile')
const warmS = Number(value('warm') ?? 2)
const loadAvg = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

console.log(
  `load average at start: ${loadAvg()}; node ${process.version}; ${slices} slices of ${sliceS} s${rate ? ` at ${rate} req/s` : ''}`,
)
const body = jsonBody(1024)
const baseLength = await sigilBaseLength(Buffer.from(body))
const servers: { name: string; kind: ServerKind; child: ChildProcess; port: number; reqs: number[]; cpu: number[] }[] = []
try {
  for (const name of runs) {
    const [kind, bundle] = name.split('@') as [ServerKind, string | undefined]
    const script = bundle ? fileURLToPath(new URL(`.build/${bundle}`, import.meta.url)) : await serverScript()
    const { child, port } = await startChild(script, kind, baseLength)
    servers.push({ name, kind, child, port, reqs: [], cpu: [] })
  }
  if (warmS > 0) for (const s of servers) await load(s.port, warmS, 10, body, rate)
  if (profileDir) for (const s of servers) await ask(s.child, { profile: 'start' }, 'profiling')
  for (let i = 0; i < slices; i++) {
    for (let j = 0; j < servers.length; j++) {
      const s = servers[(i + j) % servers.length] as (typeof servers)[number]
      const cpu0 = await cpuOf(s.child)
      const r = await load(s.port, sliceS, 10, body, rate)
      const cpuUs = (await cpuOf(s.child)) - cpu0
      if (r.non2xx || r.errors) console.log(`  ${s.name}: non-2xx ${r.non2xx}, errors ${r.errors}`)
      s.reqs.push(r.requests.total / sliceS)
      s.cpu.push(cpuUs / Math.max(1, r.requests.total))
    }
  }
  if (profileDir)
    for (const s of servers)
      await ask(s.child, { profile: 'stop', file: `${profileDir}/${s.name.replace('@', '-')}.cpuprofile` }, 'profiled')
} finally {
  for (const s of servers) {
    s.child.kill()
    await once(s.child, 'exit').catch(() => {})
  }
}
console.log(`load average at end: ${loadAvg()}`)
if (args.includes('--each'))
  for (const s of servers) console.log(`${s.name}: ${s.reqs.map((r, i) => `${r.toFixed(0)}/${(s.cpu[i] as number).toFixed(0)}`).join(' ')}`)
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
for (const s of servers) {
  const floor = servers.find((f) => f.name === `${s.kind.split('-')[0]}-floor`)
  const pairs = floor && floor !== s ? s.reqs.map((r, i) => r / (floor.reqs[i] as number)) : []
  const cpuPairs = floor && floor !== s ? s.cpu.map((c, i) => c / (floor.cpu[i] as number)) : []
  console.log(
    `${s.name.padEnd(24)} ${med(s.reqs).toFixed(0).padStart(6)} req/s  ${med(s.cpu).toFixed(1).padStart(6)} µs/req` +
      (pairs.length
        ? `  vs floor: req/s ${(100 * med(pairs)).toFixed(0)}% (quartiles ${(100 * ([...pairs].sort((a, b) => a - b)[pairs.length >> 2] as number)).toFixed(0)}-${(100 * ([...pairs].sort((a, b) => a - b)[(3 * pairs.length) >> 2] as number)).toFixed(0)}%), CPU/req ${(100 * med(cpuPairs)).toFixed(0)}%`
        : ''),
  )
}
