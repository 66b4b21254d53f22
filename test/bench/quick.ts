import { runMicro } from './micro.js'

const sizes = (process.argv[2] ?? '1024').split(',').map(Number)
const rows = await runMicro({
  sizes,
  rounds: Number(process.argv[3] ?? 3),
  timeMs: Number(process.argv[4] ?? 100),
  log: console.log,
  only: process.argv[5] ? (n) => n.includes(process.argv[5] as string) : undefined,
})
console.table(rows.map((r) => ({ size: r.sizeLabel, name: r.name, op: r.op, us: r.usPerOp.toFixed(2), ratio: r.ratio.toFixed(2) })))
