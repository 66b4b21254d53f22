// `tsx test/bench/quick.ts [sizes] [rounds] [timeMs] [name-substring] [passes]`: a subset of the micro table.
import { runMicro } from './micro.js'

const sizes = (process.argv[2] ?? '1024').split(',').map(Number)
const only = process.argv[5]
const rows = await runMicro({
  sizes,
  rounds: Number(process.argv[3] ?? 3),
  timeMs: Number(process.argv[4] ?? 100),
  passes: Number(process.argv[6] ?? 1),
  log: console.log,
  only: only ? (n) => n.includes(only) : undefined,
})
console.table(
  rows.map((r) => ({
    size: r.sizeLabel,
    name: r.name,
    op: r.op,
    us: r.usPerOp.toFixed(2),
    floor: r.floorUs.toFixed(2),
    ratio: r.ratio.toFixed(2),
  })),
)
