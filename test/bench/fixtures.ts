// The one request every benchmark entry signs and verifies (issue 6): same URL, content type,
// bodies, secret and clock, so ratios compare like with like.
import { randomBytes } from 'node:crypto'

export const URL_STRING = 'https://api.example.com/v1/orders?b=2&a=1'
export const HOST = 'api.example.com'
export const PATH = '/v1/orders'
export const QUERY = '?b=2&a=1'
export const METHOD = 'POST'
export const CONTENT_TYPE = 'application/json'
export const KEY_ID = 'k_bench_1'
export const SECRET = new Uint8Array(randomBytes(32))
export const SECRET_BUFFER = Buffer.from(SECRET)

export const KIB = 1024
export const MIB = 1024 * KIB

/** A JSON body of exactly `size` bytes (valid JSON from 2 bytes up; empty at 0). */
export function jsonBody(size: number): string {
  if (size === 0) return ''
  if (size < 16) return '{}'.padEnd(size, ' ')
  const head = '{"items":"'
  const tail = '"}'
  const fill = 'abcdefghijklmnopqrstuvwxyz0123456789'
  let s = ''
  while (s.length < size - head.length - tail.length) s += fill
  return head + s.slice(0, size - head.length - tail.length) + tail
}

/** A short human label for a body size. */
export function sizeLabel(size: number): string {
  if (size === 0) return '0 B'
  if (size % MIB === 0) return `${size / MIB} MiB`
  if (size % KIB === 0) return `${size / KIB} KiB`
  return `${size} B`
}

/** One line naming the machine and runtime, printed above every table. */
export async function machineLine(): Promise<string> {
  const os = await import('node:os')
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown CPU'
  const gib = (os.totalmem() / 1024 ** 3).toFixed(0)
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')
  return `${model}, ${cpus.length} cores, ${gib} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version} (load avg at start ${load})`
}
