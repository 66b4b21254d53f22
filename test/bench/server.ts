// Server overhead: node:http, Fastify and Express, each plain, with Sigil, and with the floor verifier,
// loaded with autocannon from this process (the server runs in a child) on 127.0.0.1.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { contentDigest } from '@sigil/core'
import { type HeaderSource, requestFromUrl } from '@sigil/core/internal'
import autocannon from 'autocannon'
import { resolveSigner } from '../../packages/client/src/options.js'
import { signViewSync } from '../../packages/client/src/sign-request.js'
import { bundleScript } from './bundle.js'
import { CONTENT_TYPE, jsonBody, KEY_ID, SECRET, SECRET_BUFFER } from './fixtures.js'

export const SERVER_KINDS = [
  'node-plain',
  'node-sigil',
  'node-floor',
  'fastify-plain',
  'fastify-sigil',
  'fastify-floor',
  'express-plain',
  'express-sigil',
  'express-floor',
] as const
export type ServerKind = (typeof SERVER_KINDS)[number]

export interface ServerRow {
  kind: ServerKind
  reqPerSec: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  errors: number
  total: number
  /** Server process CPU time (user + system) per request during the measured run, µs. */
  cpuUsPerReq: number
}

/** Send `m` to the child and wait for its reply carrying `key`. */
export function ask(child: ChildProcess, m: object, key: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (x: unknown) => {
      if ((x as Record<string, unknown>)[key] === undefined) return
      child.off('message', on)
      resolve()
    }
    child.on('message', on)
    child.send(m)
  })
}

/** The child's CPU time so far (user + system), µs. */
export function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve((m as { cpuUs: number }).cpuUs))
    child.send('cpu')
  })
}

/** The server-child bundle to run (see BENCH_SERVER_SCRIPT). */
export const serverScript = async (): Promise<string> =>
  process.env.BENCH_SERVER_SCRIPT ?? (await bundleScript(fileURLToPath(new URL('server-child.ts', import.meta.url))))

/** Start a server child from a built `script`; resolves once it listens. */
export async function startChild(script: string, kind: ServerKind, baseLength: number): Promise<{ child: ChildProcess; port: number }> {
  // BENCH_CHILD_FLAGS: node/V8 flags for the server child (e.g. `--trace-deopt`), space-separated.
  const flags = process.env.BENCH_CHILD_FLAGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(process.execPath, [...flags, script, kind], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_SECRET: SECRET_BUFFER.toString('base64'), BENCH_BASE_LENGTH: String(baseLength) },
  })
  let out = ''
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /port (\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)))
  })
  return { child, port }
}

/** Sign each request as autocannon builds it: fresh created and nonce every time. */
function signedRequests(port: number, body: string) {
  const signer = resolveSigner({ keyId: KEY_ID, secret: SECRET })
  const url = `http://127.0.0.1:${port}/v1/orders?b=2&a=1`
  const digest = contentDigest(body)
  return [
    {
      method: 'POST' as const,
      path: '/v1/orders?b=2&a=1',
      setupRequest(req: { headers?: Record<string, string>; body?: string }) {
        const headers: Record<string, string> = { 'content-type': CONTENT_TYPE, 'content-digest': digest }
        const source: HeaderSource = { get: (n) => headers[n] ?? null }
        const signed = signViewSync(requestFromUrl('POST', url, source), true, signer)
        return {
          ...req,
          headers: { ...headers, 'signature-input': signed.signatureInput, signature: signed.signature },
          body,
        }
      },
    },
  ]
}

/** Load the server on `port` for `seconds` with signed POSTs of `body`; `rate` caps the requests per second. */
export async function load(port: number, seconds: number, connections: number, body: string, rate?: number): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
    requests: signedRequests(port, body) as unknown as autocannon.Request[],
  })
}

/**
 * Warm-up of each fresh server before its measured run. A new process answers its first 2-3 s at
 * 500-700 µs per request while V8 compiles (measured with server-ab.ts --warm=0 --each, load 5 on
 * 2 cores; node-sigil settles about a second after node-floor: more code to optimize). The 1 s
 * used until 2026-11-29 left that tail inside the 4 s window, on the Sigil side more than the
 * floor's: it measured start-up, not the cost per request of a running server.
 */
export const WARMUP_S = 3

/** Run every server kind for `seconds` (after a {@link WARMUP_S} warm-up), `rounds` times interleaved; medians. */
export async function runServers(o: {
  seconds: number
  rounds: number
  connections: number
  bodySize: number
  baseLength: number
  /** Seconds of load before the measured run (default {@link WARMUP_S}). */
  warmupSeconds?: number
  /** A subset of {@link SERVER_KINDS} (default all), e.g. to iterate on one adapter beside its floor. */
  kinds?: readonly ServerKind[]
  /**
   * Write a CPU profile of each measured run (not the warm-up, not start-up) to
   * `<dir>/<kind>-<round>.cpuprofile`, for top-frames.ts. The profiler costs throughput: compare
   * profiled runs with each other only.
   */
  profileDir?: string
  log?: (s: string) => void
}): Promise<ServerRow[]> {
  const kinds = o.kinds ?? SERVER_KINDS
  // Built code, as an application runs the packages (not tsx, whose keepNames costs a
  // defineProperty per closure created): see bundleScript.
  // BENCH_SERVER_SCRIPT: an already built server-child bundle (e.g. one built from another commit,
  // to compare two versions run after run on the same machine).
  const script = await serverScript()
  const body = jsonBody(o.bodySize)
  const runs = new Map<ServerKind, autocannon.Result[]>()
  const cpu = new Map<ServerKind, number[]>()
  for (let round = 0; round < o.rounds; round++) {
    for (const kind of kinds) {
      const { child, port } = await startChild(script, kind, o.baseLength)
      try {
        await load(port, o.warmupSeconds ?? WARMUP_S, o.connections, body)
        if (o.profileDir) await ask(child, { profile: 'start' }, 'profiling')
        const cpu0 = await cpuOf(child)
        const r = await load(port, o.seconds, o.connections, body)
        const cpuUs = (await cpuOf(child)) - cpu0
        if (o.profileDir) await ask(child, { profile: 'stop', file: `${o.profileDir}/${kind}-${round}.cpuprofile` }, 'profiled')
        runs.set(kind, [...(runs.get(kind) ?? []), r])
        cpu.set(kind, [...(cpu.get(kind) ?? []), cpuUs / Math.max(1, r.requests.total)])
        o.log?.(
          `  ${kind}: ${r.requests.average.toFixed(0)} req/s, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, server CPU ${(cpuUs / Math.max(1, r.requests.total)).toFixed(0)} µs/req`,
        )
      } finally {
        child.kill()
        await once(child, 'exit').catch(() => {})
      }
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
  return kinds.map((kind) => {
    const rs = runs.get(kind) as autocannon.Result[]
    return {
      kind,
      reqPerSec: med(rs.map((r) => r.requests.average)),
      p50Ms: med(rs.map((r) => r.latency.p50)),
      p99Ms: med(rs.map((r) => r.latency.p99)),
      non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      total: rs.reduce((a, r) => a + r.requests.total, 0),
      cpuUsPerReq: med(cpu.get(kind) as number[]),
    }
  })
}
