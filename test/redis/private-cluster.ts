import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { type PrivateRedis, privateRedis } from './helpers.js'

const run = promisify(execFile)

/** A throw-away Redis Cluster on 127.0.0.1: `masters` masters with one replica each. */
export interface PrivateCluster {
  readonly ports: number[]
  readonly nodes: Map<number, PrivateRedis>
  /** The port of the master that serves `slot` now. */
  masterOf(slot: number): Promise<number>
  /** The port of a replica of the master on `port`. */
  replicaOf(port: number): Promise<number>
  /** Every node reports `cluster_state:ok` and every replica is in sync. */
  settled(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

const ask = async (port: number, ...args: string[]): Promise<string> => {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  c.on('error', () => {})
  try {
    await c.connect()
    return String(await c.call(args[0] as string, ...args.slice(1)))
  } finally {
    c.disconnect()
  }
}

/**
 * Start `2 × masters` redis-server processes on `basePort…` with cluster mode on, no persistence
 * (unless `extra` says otherwise) and a short node timeout, and join them with
 * `redis-cli --cluster create`.
 */
export async function privateCluster(basePort: number, masters = 3, extra: readonly string[] = []): Promise<PrivateCluster> {
  const root = mkdtempSync(join(tmpdir(), 'sigil-cluster-'))
  const ports = Array.from({ length: masters * 2 }, (_, i) => basePort + i)
  const nodes = new Map<number, PrivateRedis>()
  for (const port of ports) {
    const dir = join(root, String(port))
    mkdirSync(dir)
    const args = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '5000', '--dir', dir, ...extra]
    nodes.set(port, privateRedis(port, args))
  }
  const stop = async () => {
    await Promise.all([...nodes.values()].map((n) => n.kill()))
    rmSync(root, { recursive: true, force: true })
  }
  try {
    await Promise.all([...nodes.values()].map((n) => n.start()))
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 30_000,
    })
  } catch (e) {
    await stop()
    throw e
  }
  const nodeLines = async (port: number) => (await ask(port, 'CLUSTER', 'NODES')).trim().split('\n')
  const cluster: PrivateCluster = {
    ports,
    nodes,
    async masterOf(slot) {
      for (const line of await nodeLines(ports[0] as number)) {
        const f = line.split(' ')
        if (!f[2]?.includes('master') || f[2].includes('fail')) continue
        for (const range of f.slice(8)) {
          const [a, b] = range.split('-').map(Number)
          if (slot >= (a as number) && slot <= ((b ?? a) as number)) return Number(/:(\d+)@/.exec(f[1] as string)?.[1])
        }
      }
      throw new Error(`no master for slot ${slot}`)
    },
    async replicaOf(port) {
      const lines = await nodeLines(port)
      const id = lines.find((l) => l.includes('myself'))?.split(' ')[0]
      const line = lines.find((l) => l.split(' ')[3] === id)
      if (!line) throw new Error(`no replica of ${port}`)
      return Number(/:(\d+)@/.exec(line.split(' ')[1] as string)?.[1])
    },
    async settled(timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs
      for (;;) {
        try {
          const states = await Promise.all(ports.map((p) => ask(p, 'CLUSTER', 'INFO')))
          const repl = await Promise.all(ports.map((p) => ask(p, 'INFO', 'replication')))
          const ok = states.every((s) => s.includes('cluster_state:ok'))
          const synced = repl.every((r) => r.includes('role:master') || r.includes('master_link_status:up'))
          if (ok && synced) return
        } catch {
          // a node is still starting
        }
        if (Date.now() > end) throw new Error('cluster did not settle')
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    stop,
  }
  try {
    await cluster.settled()
  } catch (e) {
    await stop()
    throw e
  }
  return cluster
}
