// Issue 23 item 8: the per-process SIGIL_MEMORY_NONCE_STORE warning fires in real node:cluster
// workers. Node deletes NODE_UNIQUE_ID before user code runs, so a check of the environment alone
// never saw a worker; this forks real ones (cluster.fork) instead of setting the variable by hand.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const tsx = import.meta.resolve('tsx')
const child = fileURLToPath(new URL('./cluster-warning-child.ts', import.meta.url))

function run(): Promise<{ primary: string[]; workers: { mode: string; nodeUniqueId: string | null; codes: string[] }[] }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test' }
    delete env.NODE_UNIQUE_ID
    const proc = spawn(process.execPath, ['--conditions=source', '--import', tsx, child], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000)
    proc.stdout.on('data', (d) => {
      out += d
    })
    proc.stderr.on('data', (d) => {
      err += d
    })
    proc.on('close', (code) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop() ?? ''
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`cluster child exited ${code}: ${err.slice(0, 2000)}`))
      else resolve(JSON.parse(line))
    })
  })
}

it('a cluster.fork() worker using the default memory store is warned; the primary and a worker with a store are not', async () => {
  const { primary, workers } = await run()
  expect(primary).not.toContain('SIGIL_MEMORY_NONCE_STORE')
  const byMode = Object.fromEntries(workers.map((w) => [w.mode, w]))
  // What made the old check blind: a real worker has no NODE_UNIQUE_ID by the time user code runs.
  expect(byMode.default?.nodeUniqueId).toBeNull()
  expect(byMode.default?.codes).toContain('SIGIL_MEMORY_NONCE_STORE')
  expect(byMode.store?.codes).not.toContain('SIGIL_MEMORY_NONCE_STORE')
}, 40_000)
