// Profile one entry: `node --cpu-prof --import tsx/esm --conditions=source test/bench/profile.ts Sigil verify 1024 [n]`
// Same fresh per-request objects as the micro benchmark (wire requests prepared before the timer).
import { jsonBody } from './fixtures.js'
import { allImpls, toWire, type Wire } from './impls.js'

const [name = 'Sigil', op = 'verify', sizeArg = '1024', nArg = '20000'] = process.argv.slice(2)
const body = Buffer.from(jsonBody(Number(sizeArg)))
const impl = allImpls(body).find((i) => i.name === name)
if (!impl) throw new Error(`no entry ${name}`)
const n = Number(nArg)
const wires: Wire[] = []
if (op === 'verify') for (let i = 0; i < n; i++) wires.push(toWire(await impl.sign(), body))
const t0 = performance.now()
for (let i = 0; i < n; i++) {
  if (op === 'sign') await impl.sign()
  else if (op === 'verify') await impl.verify(wires[i] as Wire)
  else await impl.verify(toWire(await impl.sign(), body))
}
const us = ((performance.now() - t0) * 1000) / n
console.log(`${name} ${op} ${sizeArg} B: ${us.toFixed(2)} µs/op`)
