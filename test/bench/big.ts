// The 1 GiB streaming benchmark (issue 6), behind `pnpm bench --big`: a 1 GiB file in os.tmpdir()
// streamed through createSignedFetch (Blob from fs.openAsBlob: digested, then sent, in constant
// memory) to a node:http server on 127.0.0.1 that verifies it with
// verifyNodeRequest(req, { retainBody: false, maxBodyBytes: 2 GiB }). Client and server each run
// in their own process so each peak RSS is its own. The file is deleted afterwards.
//   orchestrator: runBig({ bytes })         (imported by run.ts)
//   children:     big.ts server | big.ts client <port> <file>
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream, openAsBlob } from 'node:fs'
import { rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSignedFetch } from '@sigil/client'
import { verifyNodeRequest } from '@sigil/server/node'

const GIB = 1024 ** 3
const KEY_ID = 'k_big_1'

export interface BigResult {
  bytes: number
  /** Wall time of the signed fetch: digesting the file, then sending it while the server verifies. */
  seconds: number
  /** Bytes per second over the whole request (the client reads the file twice: digest, then send). */
  throughput: number
  status: number
  /** The fetch redirect mode the client used. */
  redirect: 'error' | 'follow'
  clientPeakRss: number
  serverPeakRss: number
  /** Peak RSS of an idle child of the same kind (node + tsx + Sigil loaded), for scale. */
  baselineRss: number
}

const here = fileURLToPath(new URL('.', import.meta.url))

function child(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx/esm', '--conditions=source', `${here}big.ts`, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  })
}

function firstLine(c: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let out = ''
  return new Promise((resolve, reject) => {
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = pattern.exec(out)
      if (m) resolve(m)
    })
    c.once('exit', (code) => reject(new Error(`child exited (${code}) before ${pattern}: ${out}`)))
  })
}

async function writeFile(path: string, bytes: number): Promise<void> {
  const block = randomBytes(1024 * 1024)
  const out = createWriteStream(path)
  for (let written = 0; written < bytes; written += block.length) {
    if (!out.write(written + block.length <= bytes ? block : block.subarray(0, bytes - written))) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

/** Stream `bytes` (default 1 GiB) through createSignedFetch to a verifying node:http server. */
export async function runBig(o: { bytes?: number; redirect?: 'error' | 'follow'; log?: (s: string) => void } = {}): Promise<BigResult> {
  const bytes = o.bytes ?? GIB
  const file = join(tmpdir(), `sigil-big-${process.pid}-${Date.now()}.bin`)
  const env = { BIG_SECRET: randomBytes(32).toString('base64'), BIG_REDIRECT: o.redirect ?? 'error' }
  try {
    o.log?.(`  writing ${(bytes / GIB).toFixed(2)} GiB to ${file}`)
    await writeFile(file, bytes)
    const server = child(['server'], env)
    try {
      const port = Number((await firstLine(server, /port (\d+)\n/))[1])
      const client = child(['client', String(port), file], env)
      const m = await firstLine(client, /result (.*)\n/)
      await once(client, 'exit').catch(() => {})
      const r = JSON.parse(m[1] as string) as { seconds: number; status: number; peakRss: number; serverPeakRss: number }
      const baseline = child(['idle'], env)
      const baselineRss = Number((await firstLine(baseline, /rss (\d+)\n/))[1])
      await once(baseline, 'exit').catch(() => {})
      return {
        bytes,
        seconds: r.seconds,
        throughput: bytes / r.seconds,
        status: r.status,
        redirect: o.redirect ?? 'error',
        clientPeakRss: r.peakRss,
        serverPeakRss: r.serverPeakRss,
        baselineRss,
      }
    } finally {
      server.kill()
      await once(server, 'exit').catch(() => {})
    }
  } finally {
    await rm(file, { force: true })
  }
}

const peakRss = () => process.resourceUsage().maxRSS * 1024

const role = process.argv[2]
const secret = process.env.BIG_SECRET ? new Uint8Array(Buffer.from(process.env.BIG_SECRET, 'base64')) : undefined
if (role === 'server' && secret) {
  const options = { keys: { [KEY_ID]: secret }, retainBody: false, maxBodyBytes: 2 * GIB }
  const server = createServer(async (req, res) => {
    if (req.url === '/rss') {
      res.end(String(peakRss()))
      return
    }
    try {
      const v = await verifyNodeRequest(req, options)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, keyId: v.keyId }))
    } catch (e) {
      res.writeHead((e as { status?: number }).status ?? 500).end(String((e as { code?: string }).code ?? e))
    }
  })
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as { port: number }).port}\n`))
} else if (role === 'client' && secret) {
  const [port, file] = process.argv.slice(3) as [string, string]
  const api = createSignedFetch({ keyId: KEY_ID, secret })
  const t0 = performance.now()
  // redirect: 'error': with the default 'follow', undici's fetch clones the request to be able to
  // replay it on a redirect, which tees the body stream and keeps every byte sent (RSS grows with
  // the body: ~380 MiB client peak for 256 MiB). A signed request cannot follow a redirect to
  // another target anyway (@authority and @path are covered).
  const redirect = process.env.BIG_REDIRECT === 'follow' ? 'follow' : 'error'
  const res = await api(`http://127.0.0.1:${port}/v1/upload`, { method: 'POST', body: await openAsBlob(file), redirect })
  await res.text()
  const seconds = (performance.now() - t0) / 1000
  const serverPeakRss = Number(await (await fetch(`http://127.0.0.1:${port}/rss`)).text())
  process.stdout.write(`result ${JSON.stringify({ seconds, status: res.status, peakRss: peakRss(), serverPeakRss })}\n`)
} else if (role === 'idle') {
  // Same imports loaded, nothing streamed: the floor the two peaks are measured against.
  process.stdout.write(`rss ${peakRss()}\n`)
}
