import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signRequest } from '@sigil/client'
import type { RateLimits } from '@sigil/core'
import { generateMasterKey } from '@sigil/keys'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { Agent, request } from 'undici'

/** A shared SQLite key database in a temp dir, as several instances on one machine would use. */
export function keyDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-redis-'))
  const path = join(dir, 'keys.db')
  const masterKey = generateMasterKey()
  const store = createSqliteKeyStore({ path, masterKey })
  return {
    env: { SIGIL_DB: path, SIGIL_MASTER_KEY: masterKey },
    async createKey(rateLimits?: RateLimits) {
      const k = await store.create({ principal: 'partner-a', ...(rateLimits ? { rateLimits } : {}) })
      return { keyId: k.keyId, secret: k.secret }
    },
    async close() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Keep-alive HTTP client for the instances. */
export const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000, pipelining: 1 })

/** Sign one GET for `http://api.test<path>` (the instances are configured with that authority). */
export async function signedHeaders(key: { keyId: string; secret: Uint8Array }, path: string): Promise<Record<string, string>> {
  const signed = await signRequest(new Request(`http://api.test${path}`), { keyId: key.keyId, secret: key.secret })
  const out: Record<string, string> = {}
  signed.headers.forEach((v, k) => {
    out[k] = v
  })
  return out
}

/** A response, reduced to what the tests check. */
export interface Answer {
  status: number
  code?: string
  headers: Record<string, string | string[] | undefined>
}

/** Send a GET with the given (signed) headers to one instance. Network errors come back as status 0. */
export async function send(baseUrl: string, path: string, headers: Record<string, string>): Promise<Answer> {
  try {
    const res = await request(`${baseUrl}${path}`, { method: 'GET', headers, dispatcher: agent, headersTimeout: 10_000 })
    const text = await res.body.text()
    let code: string | undefined
    if (res.statusCode !== 200) code = (JSON.parse(text) as { code?: string }).code
    return { status: res.statusCode, ...(code ? { code } : {}), headers: res.headers }
  } catch {
    return { status: 0, headers: {} }
  }
}

/** Run `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++)
    }),
  )
}
