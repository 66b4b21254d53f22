// dudect-style timing measurement: two input classes measured in back-to-back batches (random
// order within each pair) with process.hrtime.bigint, noisy pairs cropped at a pooled percentile,
// and a paired t-test on the per-pair differences (drift cancels within a pair).

export interface TimingResult {
  t: number
  /** Cropped mean per call, nanoseconds. */
  meanA: number
  meanB: number
  n: number
  /** Standard error of the mean paired difference (ns): 10 × se is the smallest difference this run could flag. */
  se: number
}

type Op = () => unknown

/**
 * Time `batch` calls of class A or B per sample, `rounds` samples per class, in random order so
 * drift (frequency scaling, a neighbour's load) hits both classes alike.
 */
export async function compareTiming(
  a: Op,
  b: Op,
  o: { rounds: number; batch: number; async?: boolean; crop?: number },
): Promise<TimingResult> {
  const sa: number[] = []
  const sb: number[] = []
  const run = async (op: Op): Promise<number> => {
    const t0 = process.hrtime.bigint()
    if (o.async) for (let i = 0; i < o.batch; i++) await op()
    else for (let i = 0; i < o.batch; i++) op()
    return Number(process.hrtime.bigint() - t0) / o.batch
  }
  // Warm up both paths so the JIT has settled before anything is recorded.
  for (let i = 0; i < Math.min(200, o.rounds); i++) {
    await run(a)
    await run(b)
  }
  for (let i = 0; i < o.rounds; i++) {
    if (Math.random() < 0.5) {
      sa.push(await run(a))
      sb.push(await run(b))
    } else {
      sb.push(await run(b))
      sa.push(await run(a))
    }
  }
  // Pairs measured back to back share the machine's state (frequency, a neighbour's load), so the
  // paired difference cancels drift that would swamp a ~30 ns effect. Pairs where either sample
  // is above the pooled percentile (an interrupt, a GC) are dropped whole.
  const pooled = [...sa, ...sb].sort((x, y) => x - y)
  const cut = pooled[Math.floor((pooled.length - 1) * (o.crop ?? 0.9))] as number
  const ca: number[] = []
  const cb: number[] = []
  for (let i = 0; i < sa.length; i++) {
    if ((sa[i] as number) <= cut && (sb[i] as number) <= cut) {
      ca.push(sa[i] as number)
      cb.push(sb[i] as number)
    }
  }
  const d = ca.map((v, i) => v - (cb[i] as number))
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length
  const md = mean(d)
  const se = Math.sqrt(d.reduce((s, v) => s + (v - md) ** 2, 0) / (d.length - 1) / d.length)
  return { t: se === 0 ? 0 : md / se, meanA: mean(ca), meanB: mean(cb), n: d.length, se }
}

/** dudect's bound: |t| above this means the two classes are distinguishable. */
export const T_THRESHOLD = 10

/**
 * Smallest per-call difference that counts as a leak, in ns. The paired test resolves a few ns, and
 * at that scale buffer placement alone shows up; an early-exit compare over 31 bytes costs ~30-40 ns
 * more (the controls measure it), so half of that is the floor.
 */
export const MIN_EFFECT_NS = 15

/** A leak: statistically significant and large enough to matter. */
export const isLeak = (r: TimingResult) => Math.abs(r.t) > T_THRESHOLD && Math.abs(r.meanA - r.meanB) >= MIN_EFFECT_NS

/**
 * Up to `attempts` measurements, stopping at the first whose |t| is on the wanted side of the
 * threshold. Noise on a shared machine can push one attempt over it; a real leak does so every
 * time (and a real leak in a control is found on the first attempt). Returns the last result.
 */
export async function measureUntil(
  want: 'constant' | 'leaky',
  name: string,
  measure: () => Promise<TimingResult>,
  attempts = 3,
): Promise<TimingResult> {
  let r: TimingResult | undefined
  for (let i = 0; i < attempts; i++) {
    r = await measure()
    console.log(fmt(`${name} (attempt ${i + 1})`, r))
    if (isLeak(r) === (want === 'leaky')) break
  }
  return r as TimingResult
}

/** One line per measurement, for the CI log. */
export const fmt = (name: string, r: TimingResult) =>
  `[timing] ${name}: t=${r.t.toFixed(2)} meanA=${r.meanA.toFixed(1)}ns meanB=${r.meanB.toFixed(1)}ns ` +
  `se=${r.se.toFixed(1)}ns (flags >= ${(T_THRESHOLD * r.se).toFixed(0)}ns) n=${r.n}`
