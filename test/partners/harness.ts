// What the partner-recipe tests share: a real Sigil server on 127.0.0.1 (node:http +
// verifyNodeRequest) that echoes what it verified, a proxy that changes one thing on the way,
// and a way to run each recipe (python3, bash + curl + openssl, java) as a partner would.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { KeyRecord } from '@sigil/core'
import { createMemoryNonceStore, createVerifier, type VerifyContext, type VerifyOptions } from '@sigil/server'
import { sendProblem, verifyNodeRequest } from '@sigil/server/node'

export const ROOT = resolve(import.meta.dirname, '../..')
export const RECIPES_DIR = join(ROOT, 'examples/partners')

export interface Listening {
  origin: string
  port: number
  close(): Promise<void>
}

async function listen(server: Server): Promise<Listening> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => done())
      }),
  }
}

/** What the server verified and echoes back. */
export interface Echo {
  principal: string
  keyId: string
  method: string
  url: string
  contentType: string | null
  sha256: string | null
  length: number
  test?: boolean
}

/** A Sigil API: every request through verifyNodeRequest; a verified one is echoed as JSON. */
export async function startSigilServer(
  keys: KeyRecord[],
  options: Partial<VerifyOptions> = {},
  context?: VerifyContext,
): Promise<Listening> {
  const byId = new Map(keys.map((k) => [k.keyId, k]))
  const verifier = createVerifier({ keys: { get: (id) => byId.get(id) }, nonceStore: createMemoryNonceStore(), ...options })
  const server = createServer(async (req, res) => {
    try {
      const v = await verifyNodeRequest(req, verifier, context)
      const echo: Echo = {
        principal: v.principal,
        keyId: v.keyId,
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'] ?? null,
        sha256: v.body ? createHash('sha256').update(v.body).digest('hex') : null,
        length: v.body?.length ?? 0,
        ...(v.test ? { test: v.test } : {}),
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(echo))
    } catch (e) {
      sendProblem(res, e)
    }
  })
  return listen(server)
}

/** A request as the proxy sees it, which a mutation may change before it is forwarded. */
export interface Forwarded {
  method: string
  url: string
  headers: [string, string][]
  body: Buffer
}

/** A forwarding proxy in front of `upstream` that keeps the last request it forwarded, as it arrived. */
export async function startRecorder(upstream: Listening): Promise<Listening & { last: () => Forwarded }> {
  let last: Forwarded | undefined
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers: [string, string][] = []
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string])
    const r: Forwarded = { method: req.method ?? 'GET', url: req.url ?? '/', headers, body: Buffer.concat(chunks) }
    last = structuredClone(r)
    last.body = Buffer.from(r.body)
    const up = await send(upstream, r)
    res.writeHead(up.status, { 'content-type': up.contentType })
    res.end(up.body)
  })
  const l = await listen(server)
  return Object.assign(l, {
    last: () => {
      if (!last) throw new Error('nothing was recorded')
      return { ...last, headers: last.headers.map(([n, v]) => [n, v] as [string, string]), body: Buffer.from(last.body) }
    },
  })
}

/** Send a request to `to` as given: method, raw target, headers (Host included) and body bytes. */
export function send(to: Listening, r: Forwarded): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((done, failed) => {
    const headers = r.headers.filter(([n]) => !/^(content-length|transfer-encoding|connection)$/i.test(n)).flat()
    if (r.body.length > 0 || r.headers.some(([n]) => /^content-length$/i.test(n))) headers.push('content-length', String(r.body.length))
    const out = request({ host: '127.0.0.1', port: to.port, method: r.method, path: r.url, headers, setHost: false })
    out.on('response', async (up) => {
      const chunks: Buffer[] = []
      for await (const c of up) chunks.push(c as Buffer)
      done({ status: up.statusCode ?? 0, contentType: String(up.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') })
    })
    out.on('error', failed)
    out.end(r.body)
  })
}

/** Set (or replace) one header of a forwarded request. */
export function setHeader(r: Forwarded, name: string, value: string): void {
  const at = r.headers.findIndex(([n]) => n.toLowerCase() === name)
  if (at < 0) throw new Error(`no ${name} header to change`)
  r.headers[at] = [r.headers[at]?.[0] as string, value]
}

/** One header's value in a forwarded request. */
export function header(r: Forwarded, name: string): string {
  const h = r.headers.find(([n]) => n.toLowerCase() === name)
  if (!h) throw new Error(`no ${name} header`)
  return h[1]
}

export type RecipeName = 'python' | 'bash' | 'java'

/** How to run a recipe: `java` runs classes compiled once (see compileJava), `java-source` runs `java Sign.java`. */
export function recipeCommand(name: RecipeName | 'java-source', javaClasses?: string): [string, string[]] {
  switch (name) {
    case 'python':
      return ['python3', [join(RECIPES_DIR, 'python/sign.py')]]
    case 'bash':
      return ['bash', [join(RECIPES_DIR, 'bash/sign.sh')]]
    case 'java':
      return ['java', ['-cp', javaClasses as string, 'Sign']]
    case 'java-source':
      return ['java', [join(RECIPES_DIR, 'java/Sign.java')]]
  }
}

/** Compile Sign.java once (running the source file compiles it on every run, seconds each). */
export async function compileJava(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-java-'))
  await run('javac', ['-d', dir, join(RECIPES_DIR, 'java/Sign.java')], {})
  return dir
}

export interface RecipeResult {
  exitCode: number
  status: number
  body: string
  stderr: string
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, failed) => {
    execFile(
      cmd,
      args,
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LANG: 'C.UTF-8', ...env }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return failed(new Error(`${cmd} failed to run: ${error.message}\n${stderr}`))
        done({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr })
      },
    )
  })
}

/** Run a recipe as a partner would: SIGIL_TOKEN in the environment, `METHOD URL [BODY_FILE]`. */
export async function runRecipe(
  command: [string, string[]],
  token: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<RecipeResult> {
  const [cmd, base] = command
  const r = await run(cmd, [...base, ...args], { SIGIL_TOKEN: token, ...env })
  const nl = r.stdout.indexOf('\n')
  const status = nl > 0 ? Number(r.stdout.slice(0, nl)) : Number.NaN
  return { exitCode: r.code, status, body: nl > 0 ? r.stdout.slice(nl + 1) : r.stdout, stderr: r.stderr }
}

/** A body file in a fresh temporary folder. */
export function bodyFile(bytes: Uint8Array | string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-body-'))
  const file = join(dir, 'body')
  writeFileSync(file, bytes)
  return file
}
