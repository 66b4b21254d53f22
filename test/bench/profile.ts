// Profile one entry: `tsx --conditions=source test/bench/profile.ts Sigil verify 1024 [n] [out.cpuprofile]`
// Same fresh per-request objects as the micro benchmark (wire requests prepared before the timer).
// The CPU profile covers the timed loop only (not module loading or the pre-signing of the wire
// requests), after a warm-up of n/4 operations; summarise it with top-frames.ts.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { jsonBody } from './fixtures.js'
import { allImpls, toWire, type Wire } from './impls.js'

const [name = 'Sigil', op = 'verify', sizeArg = '1024', nArg = '20000', out = `${name.replace(/\W+/g, '-')}-${op}-${sizeArg}.cpuprofile`] =
  process.argv.slice(2)
const body = Buffer.from(jsonBody(Number(sizeArg)))
const impl = allImpls(body).find((i) => i.name === name)
if (!impl) throw new Error(`no entry ${name}`)
const n = Number(nArg)

async function prepare(count: number): Promise<Wire[]> {
  const wires: Wire[] = []
  const e = impl as NonNullable<typeof impl>
  if (op === 'verify')
    for (let i = 0; i < count; i++) {
      const w = toWire(await e.sign(), body)
      wires.push(e.receive ? e.receive(w) : w)
    }
  return wires
}

async function loop(count: number, wires: Wire[]): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    if (op === 'sign') await impl?.sign()
    else if (op === 'verify') await impl?.verify(wires[i] as Wire)
    else await impl?.verify(toWire(await (impl as NonNullable<typeof impl>).sign(), body))
  }
  return ((performance.now() - t0) * 1000) / count
}

await loop(Math.max(1, n >> 2), await prepare(Math.max(1, n >> 2)))
impl.reset?.()
const wires = await prepare(n)
const session = new Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.setSamplingInterval', { interval: 100 })
await session.post('Profiler.start')
const us = await loop(n, wires)
const { profile } = await session.post('Profiler.stop')
session.disconnect()
writeFileSync(out, JSON.stringify(profile))
console.log(`${name} ${op} ${sizeArg} B: ${us.toFixed(2)} µs/op (profiled), profile in ${out}`)
