// verify(Request) in every runtime the README names, from a Node client over 127.0.0.1: Bun,
// Deno, workerd (Cloudflare Workers, no nodejs_compat), Next.js 15 (Node route, edge route,
// middleware). Each case: signed POST accepted, swapped body DIGEST_MISMATCH, replay
// NONCE_REPLAYED, body-less DELETE accepted, unsigned SIGNATURE_MISSING.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createSignedFetch, signRequest } from '@sigil/client'
import { bodyEncryption } from '@sigil/client/encrypted'
import { DEMO_PARTNER } from '@sigil-examples/demo-keys'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name: string) => join(root, 'node_modules', '.bin', name)
const tmp = mkdtempSync(join(tmpdir(), 'sigil-runtimes-'))
const children: ChildProcess[] = []
// Each server runs in its own process group (the .bin shims start the real binary as a child):
// kill the group, so no runtime outlives the run.
afterAll(() => {
  for (const c of children) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL')
    } catch {}
  }
  rmSync(tmp, { recursive: true, force: true })
})

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

/** Start a server process and wait until `ready` matches its output (or it answers on `port`). */
function start(cmd: string, args: string[], o: { cwd: string; env?: Record<string, string>; ready: RegExp }): Promise<string> {
  const child = spawn(cmd, args, {
    cwd: o.cwd,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start:\n${out.slice(-2000)}`)), 120_000)
    const on = (d: Buffer) => {
      out += d
      const m = o.ready.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1] ?? '')
      }
    }
    child.stdout?.on('data', on)
    child.stderr?.on('data', on)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${cmd} exited ${code}:\n${out.slice(-2000)}`))
    })
  })
}

async function send(url: string, method: string, body?: string, o: { sign?: boolean; swap?: string } = {}) {
  const init: RequestInit = { method, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) }
  const signed = o.sign === false ? new Request(url, init) : await signRequest(new Request(url, init), DEMO_PARTNER)
  const headers = Object.fromEntries(signed.headers)
  const go = async () => {
    const res = await fetch(url, { method, headers, ...(body !== undefined ? { body: o.swap ?? body } : {}) })
    const json = (await res.json().catch(() => ({}))) as { code?: string; principal?: string }
    return { status: res.status, code: json.code, principal: json.principal }
  }
  return { go }
}

/** `encrypted`: the target serves src/handler.ts, whose `?encrypted` route takes aes128gcm bodies. */
type Target = { name: string; url: () => string; encrypted?: true }
function matrix(targets: Target[]) {
  for (const t of targets) {
    describe(t.name, () => {
      it('accepts a signed POST', async () => {
        const r = await (await send(t.url(), 'POST', '{"sku":"A-1"}')).go()
        expect(r).toMatchObject({ status: 200, principal: 'partner-demo' })
      })
      it('answers a swapped body with DIGEST_MISMATCH', async () => {
        const r = await (await send(t.url(), 'POST', '{"sku":"A-1"}', { swap: '{"sku":"B-2"}' })).go()
        expect([r.status, r.code]).toEqual([401, 'DIGEST_MISMATCH'])
      })
      it('answers a replay with NONCE_REPLAYED', async () => {
        const req = await send(t.url(), 'POST', '{"sku":"A-1"}')
        expect((await req.go()).status).toBe(200)
        expect((await req.go()).code).toBe('NONCE_REPLAYED')
      })
      it('accepts a body-less DELETE', async () => {
        expect((await (await send(t.url(), 'DELETE')).go()).status).toBe(200)
      })
      it.runIf(t.encrypted)(
        'takes an aes128gcm body and answers encrypted (SPEC §8); refuses plaintext there with ENCRYPTION_REQUIRED',
        async () => {
          const url = `${t.url()}?encrypted`
          const api = createSignedFetch({ ...DEMO_PARTNER, encryptBody: bodyEncryption() })
          const res = await api(url, { method: 'POST', body: '{"sku":"A-1"}', headers: { 'content-type': 'application/json' } })
          expect(await res.json()).toEqual({ principal: 'partner-demo', encrypted: true, text: '{"sku":"A-1"}' })
          const plain = await createSignedFetch(DEMO_PARTNER)(url, { method: 'POST', body: '{}' })
          expect([plain.status, ((await plain.json()) as { code?: string }).code]).toEqual([415, 'ENCRYPTION_REQUIRED'])
        },
      )
      it('answers an unsigned request with SIGNATURE_MISSING', async () => {
        expect((await (await send(t.url(), 'GET', undefined, { sign: false })).go()).code).toBe('SIGNATURE_MISSING')
      })
    })
  }
}

describe('Bun', () => {
  let base = ''
  beforeAll(async () => {
    base = await start(bin('bun'), ['src/bun.ts'], { cwd: root, env: { PORT: '0' }, ready: /listening on (http:\S+)/ })
  })
  matrix([{ name: 'Bun.serve', url: () => `${base}/v1/orders`, encrypted: true }])
})

describe('Deno', () => {
  let base = ''
  beforeAll(async () => {
    base = await start(bin('deno'), ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', 'src/deno.ts'], {
      cwd: root,
      env: { PORT: '0', DENO_NO_UPDATE_CHECK: '1' },
      ready: /listening on (http:\S+)/,
    })
  })
  matrix([{ name: 'Deno.serve', url: () => `${base}/v1/orders`, encrypted: true }])
})

describe('workerd (Cloudflare Workers runtime)', () => {
  let base = ''
  beforeAll(async () => {
    await build({
      entryPoints: [join(root, 'src/worker.ts')],
      outfile: join(tmp, 'worker.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['workerd', 'worker', 'browser'],
      target: 'es2022',
      logLevel: 'silent',
    })
    const port = await freePort()
    writeFileSync(
      join(tmp, 'config.capnp'),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  compatibilityDate = "2025-01-01",
);
`,
    )
    base = `http://127.0.0.1:${port}`
    const child = spawn(bin('workerd'), ['serve', join(tmp, 'config.capnp'), '--verbose'], {
      cwd: tmp,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    children.push(child)
    let out = ''
    child.stdout?.on('data', (d) => (out += d))
    child.stderr?.on('data', (d) => (out += d))
    for (let i = 0; ; i++) {
      const up = await fetch(base).then(
        () => true,
        () => false,
      )
      if (up) break
      if (child.exitCode !== null || i > 100) throw new Error(`workerd did not start:\n${out.slice(-2000)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  })
  matrix([{ name: 'module worker', url: () => `${base}/v1/orders`, encrypted: true }])
})

describe('Next.js 15 (next build && next start)', () => {
  let base = ''
  const dir = join(root, 'next')
  beforeAll(async () => {
    const { stdout, stderr } = await promisify(execFile)(bin('next'), ['build'], {
      cwd: dir,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
      maxBuffer: 1 << 24,
    })
    // No Node-only API may be pulled into the edge bundles (route, middleware).
    expect(`${stdout}${stderr}`).not.toMatch(/A Node\.js API is used/)
    const port = await freePort()
    base = await start(bin('next'), ['start', '-p', String(port), '-H', '127.0.0.1'], {
      cwd: dir,
      ready: /(?:Ready|started server)[^\n]*?(?:in|on)?/i,
    }).then(() => `http://127.0.0.1:${port}`)
  })
  matrix([
    { name: 'route handler (Node runtime)', url: () => `${base}/api/orders` },
    { name: 'route handler (edge runtime)', url: () => `${base}/edge/orders` },
    { name: 'middleware.ts', url: () => `${base}/mw/orders` },
  ])
})
