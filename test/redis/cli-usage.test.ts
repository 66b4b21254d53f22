import { run } from '@sigil/cli'
import { createRedisUsageRecorder } from '@sigil/redis'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectShared, deletePrefix, freePort, SHARED_REDIS_PORT, uniquePrefix } from './helpers.js'

let redis: Redis
const prefix = uniquePrefix('cli')
const redisUrl = `redis://127.0.0.1:${SHARED_REDIS_PORT}`

function io() {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: {
      stdout: { write: (s: string | Uint8Array) => out.push(String(s)) },
      stderr: { write: (s: string) => err.push(s) },
      env: { SIGIL_REDIS_URL: redisUrl, SIGIL_REDIS_PREFIX: prefix },
      cwd: process.cwd(),
      now: () => Date.parse('2025-03-10T12:00:00Z'),
    },
  }
}

beforeAll(async () => {
  redis = await connectShared()
  const u = createRedisUsageRecorder(redis, { prefix })
  u.record({ keyId: 'cliKey0001', outcome: 'accepted', at: new Date('2025-03-08T09:00:00Z'), address: '203.0.113.7' })
  u.record({ keyId: 'cliKey0001', outcome: 'accepted', at: new Date('2025-03-09T09:00:00Z'), address: '203.0.113.8' })
  u.record({ keyId: 'cliKey0001', outcome: 'NONCE_REPLAYED', keyFound: true, at: new Date('2025-03-09T10:00:00Z') })
  await u.close()
})
afterAll(async () => {
  await deletePrefix(redis, prefix)
  redis.disconnect()
})

describe('sigil keys usage', () => {
  it('prints a table per day with totals', async () => {
    const t = io()
    expect(await run(['keys', 'usage', 'cliKey0001', '--days', '7'], t.io)).toBe(0)
    const text = t.out.join('')
    expect(text).toContain('Usage of cliKey0001, 2025-03-04 to 2025-03-10')
    expect(text).toMatch(/2025-03-08\s+1\s+0\s+-\s+2025-03-08T09:00:00Z\s+203\.0\.113\.7/)
    expect(text).toMatch(/2025-03-09\s+1\s+1\s+NONCE_REPLAYED=1\s+2025-03-09T09:00:00Z\s+203\.0\.113\.8/)
    expect(text).toMatch(/TOTAL\s+2\s+1\s+NONCE_REPLAYED=1/)
  })

  it('prints JSON with --json', async () => {
    const t = io()
    expect(await run(['keys', 'usage', 'cliKey0001', '--from', '2025-03-09', '--to', '2025-03-09', '--json'], t.io)).toBe(0)
    expect(JSON.parse(t.out.join(''))).toEqual({
      keyId: 'cliKey0001',
      from: '2025-03-09',
      to: '2025-03-09',
      days: [
        {
          date: '2025-03-09',
          accepted: 1,
          rejected: { NONCE_REPLAYED: 1 },
          lastUsedAt: '2025-03-09T09:00:00.000Z',
          lastAddress: '203.0.113.8',
        },
      ],
      totals: { accepted: 1, rejected: { NONCE_REPLAYED: 1 }, lastUsedAt: '2025-03-09T09:00:00.000Z', lastAddress: '203.0.113.8' },
    })
  })

  it('says so when a key has no traffic', async () => {
    const t = io()
    expect(await run(['keys', 'usage', 'quietKey01'], t.io)).toBe(0)
    expect(t.out.join('')).toContain('No traffic recorded.')
  })

  it('exits 4 without echoing credentials when Redis does not answer, 64 on bad flags', async () => {
    const t = io()
    const url = `redis://user:hunter2secret@127.0.0.1:${await freePort()}`
    expect(await run(['keys', 'usage', 'cliKey0001', '--redis', url, '--json'], t.io)).toBe(4)
    expect(t.err.join('')).toContain('STORE_UNAVAILABLE')
    expect(t.err.join('')).not.toContain('hunter2')
    const u = io()
    expect(await run(['keys', 'usage', 'cliKey0001', '--from', 'yesterday'], u.io)).toBe(64)
  })
})
