import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const SERVER = fileURLToPath(new URL('./fixtures/server.ts', import.meta.url))
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url))

/** A running API instance (child process). */
export interface Instance {
  readonly port: number
  readonly proc: ChildProcess
  readonly url: string
}

/** Start one fixture server as a child process; resolves once it prints its port. */
export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const proc = spawn(process.execPath, ['--import', TSX, '--conditions=source', SERVER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  proc.stderr?.on('data', (d) => {
    err += String(d)
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`instance did not start in time\n${err}`)), 20_000)
    proc.stdout?.on('data', (d) => {
      out += String(d)
      const m = /PORT (\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`instance exited with ${code}\n${err}`))
    })
  })
  return { port, proc, url: `http://127.0.0.1:${port}` }
}

/** Start `n` instances in parallel. */
export function startInstances(n: number, env: Record<string, string>): Promise<Instance[]> {
  return Promise.all(Array.from({ length: n }, () => startInstance(env)))
}

/** Stop instances (SIGTERM, then SIGKILL after a grace period). */
export async function stopInstances(instances: readonly Instance[]): Promise<void> {
  await Promise.all(
    instances.map(async ({ proc }) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = once(proc, 'exit')
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000)
      await exited
      clearTimeout(timer)
    }),
  )
}
