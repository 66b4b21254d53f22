// Profile one entry: `node --cpu-prof --import tsx/esm --conditions=source test/bench/profile.ts Sigil verify 1024`
import { jsonBody } from './fixtures.js'
import { allImpls, sigilBaseLength } from './impls.js'

const [name = 'Sigil', op = 'verify', sizeArg = '1024', nArg = '20000'] = process.argv.slice(2)
const body = Buffer.from(jsonBody(Number(sizeArg)))
const impl = allImpls(body, await sigilBaseLength(body)).find((i) => i.name === name)
if (!impl) throw new Error(`no entry ${name}`)
const n = Number(nArg)
const signed: unknown[] = []
if (op === 'verify') for (let i = 0; i < n; i++) signed.push(await impl.sign())
const t0 = performance.now()
for (let i = 0; i < n; i++) {
  if (op === 'sign') await impl.sign()
  else if (op === 'verify') await impl.verify(signed[i])
  else await impl.verify(await impl.sign())
}
const us = ((performance.now() - t0) * 1000) / n
console.log(`${name} ${op} ${sizeArg} B: ${us.toFixed(2)} µs/op`)
