// Run by cluster-warning.test.ts: a real node:cluster primary that forks workers, each building a
// verifier with or without a nonce store and reporting the warnings it saw. Prints one JSON line.
import cluster from 'node:cluster'

const keys = { k_cluster: crypto.getRandomValues(new Uint8Array(32)) }

async function build(withStore: boolean): Promise<string[]> {
  const codes: string[] = []
  process.on('warning', (w) => codes.push((w as Error & { code?: string }).code ?? w.name))
  const { createMemoryNonceStore, createVerifier } = await import('@sigil/server')
  createVerifier(withStore ? { keys, nonceStore: createMemoryNonceStore() } : { keys })
  // process.emitWarning delivers on a later tick.
  await new Promise((r) => setTimeout(r, 20))
  return codes
}

if (cluster.isPrimary) {
  const primary = await build(false)
  const workers: unknown[] = []
  for (const mode of ['default', 'store']) {
    const worker = cluster.fork({ SIGIL_TEST_MODE: mode })
    workers.push(
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('worker did not report')), 20_000)
        worker.once('message', (m) => {
          clearTimeout(timer)
          worker.kill()
          resolve(m)
        })
        worker.once('error', reject)
      }),
    )
  }
  process.stdout.write(`${JSON.stringify({ primary, workers })}\n`)
} else {
  const mode = process.env.SIGIL_TEST_MODE
  const codes = await build(mode === 'store')
  process.send?.({ mode, nodeUniqueId: process.env.NODE_UNIQUE_ID ?? null, codes })
}
