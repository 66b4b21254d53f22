// Every public function that takes an options object refuses a key it does not know, naming the
// key and the closest known name (issue 23 item 9: a misspelled option silently ignored is a
// fail-open). One row per options object: a misspelling goes in, a ConfigurationError with code
// CONFIGURATION_INVALID, the field path and "did you mean `<name>`?" comes out. The client's
// options (@sigil/client) are not in this table yet: that package adopts the toolkit separately.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createAdmin, createLinkToken, createPostgresAuditLog } from '@sigil/admin'
import { EXIT, run } from '@sigil/cli'
import { ConfigurationError, type SigilError } from '@sigil/core'
import {
  createBackedKeyStore,
  createCachedKeyStore,
  createMemoryBackend,
  createMemoryKeyStore,
  generateKey,
  generateMasterKey,
  parseMasterKey,
} from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { connectKeyCache, createRedisNonceStore, createRedisRateLimiter, createRedisUsageRecorder, keepRedisAlive } from '@sigil/redis'
import {
  createMemoryNonceStore,
  createRateLimiterWith,
  createVerifier,
  signNodeResponse,
  signResponse,
  type Verified,
  verify,
} from '@sigil/server'
import { sigil as expressSigil } from '@sigil/server/express'
import { sigil as fastifySigil } from '@sigil/server/fastify'
import { sigil as honoSigil } from '@sigil/server/hono'
import { withSigil as mswWithSigil } from '@sigil/server/msw'
import { verifyNodeRequest, withSigil } from '@sigil/server/node'
import { createMemoryRateLimiter } from '@sigil/server/rate-limit'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'

const keys = { k1: new Uint8Array(32).fill(7) }
const masterKey = generateMasterKey('v1')
const verifier = createVerifier({ keys })
const verified: Verified = { keyId: 'k1', principal: 'k1', scopes: [], created: 0, label: 'sig1' }
const request = () => new Request('http://api.example.com/v1/orders')
// Never connected: every check below runs before the first command.
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true })
const cache = { invalidate() {}, clear() {} }

afterAll(() => redis.disconnect())

/** Run `f` and return what it threw (or rejected with). */
async function thrown(f: () => unknown): Promise<unknown> {
  try {
    await f()
  } catch (e) {
    return e
  }
  return undefined
}

function expectUnknown(error: unknown, field: string, suggestion: string): void {
  expect(error).toBeInstanceOf(ConfigurationError)
  expect((error as SigilError).code).toBe('CONFIGURATION_INVALID')
  expect((error as Error).message).toMatch(/^invalid [^:]+: /)
  expect((error as Error).message).toContain(`: ${field}: unknown option, did you mean \`${suggestion}\`?`)
}

/** [function, call with a misspelled option, the field as named, the suggestion]. */
const table: [string, () => unknown, string, string][] = [
  // @sigil/server: the verifier, per-call contexts, adapters, stores, response signing
  ['createVerifier', () => createVerifier({ keys, requireScopes: ['admin'] } as never), 'requireScopes', 'requiredScopes'],
  ['createVerifier presigned', () => createVerifier({ keys, presigned: { singleUs: true } } as never), 'presigned.singleUs', 'singleUse'],
  [
    'createVerifier signatureLimits',
    () => createVerifier({ keys, signatureLimits: { maxSignature: 2 } } as never),
    'signatureLimits.maxSignature',
    'maxSignatures',
  ],
  ['verify options', () => verify(request(), { keys, windowMS: 60_000 } as never), 'windowMS', 'windowMs'],
  ['verify context', () => verify(request(), verifier, { requiredScope: ['admin'] } as never), 'requiredScope', 'requiredScopes'],
  ['express sigil', () => expressSigil({ keys, exemt: ['/healthz'] } as never), 'exemt', 'exempt'],
  ['express sigil signResponses', () => expressSigil({ keys, signResponses: { lable: 'x' } } as never), 'signResponses.lable', 'label'],
  [
    'fastify sigil',
    () =>
      Fastify()
        .register(fastifySigil, { keys, trustProxi: 1 } as never)
        .ready(),
    'trustProxi',
    'trustProxy',
  ],
  ['hono sigil', () => honoSigil({ keys, consumeBdy: true } as never), 'consumeBdy', 'consumeBody'],
  ['hono sigil (verify option)', () => honoSigil({ keys, authorty: 'api.example.com' } as never), 'authorty', 'authority'],
  ['node withSigil', () => withSigil({ keys }, () => {}, { exemt: ['/healthz'] } as never), 'exemt', 'exempt'],
  [
    'node withSigil signResponses',
    () => withSigil(verifier, () => {}, { signResponses: { tga: 'x' } } as never),
    'signResponses.tga',
    'tag',
  ],
  [
    'verifyNodeRequest context',
    () => verifyNodeRequest({ headers: {} } as IncomingMessage, verifier, { targt: '/' } as never),
    'targt',
    'target',
  ],
  [
    'msw withSigil',
    () => mswWithSigil(verifier, () => new Response(), { requiredScope: ['a'] } as never),
    'requiredScope',
    'requiredScopes',
  ],
  [
    'signResponse',
    () => signResponse(new Response('ok'), verified, request(), { verifier, digestAlgorthm: 'sha-512' } as never),
    'digestAlgorthm',
    'digestAlgorithm',
  ],
  [
    'signNodeResponse',
    () => signNodeResponse({} as ServerResponse, verified, {} as IncomingMessage, { verifier, lable: 'x' } as never),
    'lable',
    'label',
  ],
  ['createMemoryNonceStore', () => createMemoryNonceStore({ maxEntires: 10 } as never), 'maxEntires', 'maxEntries'],
  ['createMemoryRateLimiter', () => createMemoryRateLimiter({ perPrinciple: true } as never), 'perPrinciple', 'perPrincipal'],
  [
    'createRateLimiterWith limits',
    () =>
      createRateLimiterWith(() => ({ consume: async () => ({ remainingPoints: 0, msBeforeNext: 0 }) }), {
        rate: { point: 1, windowMs: 1000 },
      } as never),
    'rate.point',
    'points',
  ],
  // @sigil/redis
  ['createRedisNonceStore', () => createRedisNonceStore(redis, { prefx: 'app' } as never), 'prefx', 'prefix'],
  ['createRedisRateLimiter', () => createRedisRateLimiter(redis, {}, { livenes: false } as never), 'livenes', 'liveness'],
  ['createRedisUsageRecorder', () => createRedisUsageRecorder(redis, { flushInterval: 100 } as never), 'flushInterval', 'flushIntervalMs'],
  ['keepRedisAlive', () => keepRedisAlive(redis, { timeout: 1000 } as never), 'timeout', 'timeoutMs'],
  ['connectKeyCache', () => connectKeyCache(cache, redis, { heartbeat: 1000 } as never), 'heartbeat', 'heartbeatMs'],
  // @sigil/keys
  ['generateKey', () => generateKey({ principal: 'acme', scope: ['a'] } as never), 'scope', 'scopes'],
  [
    'generateKey rateLimits',
    () => generateKey({ principal: 'acme', rateLimits: { quota: { points: 1, period: 1 } } } as never),
    'rateLimits.quota.period',
    'periodMs',
  ],
  ['createMemoryKeyStore', () => createMemoryKeyStore({ defaultGrace: 0 } as never), 'defaultGrace', 'defaultGraceMs'],
  [
    'createBackedKeyStore',
    () => createBackedKeyStore(createMemoryBackend(), { requireMasterkey: true } as never),
    'requireMasterkey',
    'requireMasterKey',
  ],
  ['createSqliteKeyStore', () => createSqliteKeyStore({ path: ':memory:', masterKey, tabel: 'k' } as never), 'tabel', 'table'],
  [
    'createPostgresKeyStore',
    () => createPostgresKeyStore({ connectionString: 'postgres://127.0.0.1/test', masterKey, poolsize: 2 } as never),
    'poolsize',
    'poolSize',
  ],
  [
    'SqliteKeyStore.restore',
    async () => {
      const store = createSqliteKeyStore({ path: ':memory:', masterKey })
      try {
        await store.restore('/nonexistent', { replce: true } as never)
      } finally {
        await store.close()
      }
    },
    'replce',
    'replace',
  ],
  ['createCachedKeyStore', () => createCachedKeyStore(createMemoryKeyStore(), { ttl: 1000 } as never), 'ttl', 'ttlMs'],
  ['KeyStore.create', () => createMemoryKeyStore().create({ principal: 'acme', expireAt: new Date() } as never), 'expireAt', 'expiresAt'],
  ['KeyStore.update', () => createMemoryKeyStore().update('k', { addScope: ['a'] } as never), 'addScope', 'addScopes'],
  ['KeyStore.update options', () => createMemoryKeyStore().update('k', {}, { ifversion: 1 } as never), 'ifversion', 'ifVersion'],
  ['KeyStore.rotate', () => createMemoryKeyStore().rotate('k', { grace: 0 } as never), 'grace', 'graceMs'],
  ['KeyStore.list', () => createMemoryKeyStore().list({ principle: 'acme' } as never), 'principle', 'principal'],
  ['parseMasterKey', () => parseMasterKey({ curent: 'v1', keys: {} } as never), 'curent', 'current'],
  // @sigil/admin
  [
    'createAdmin',
    () => createAdmin({ store: createMemoryKeyStore(), adminSecret: new Uint8Array(32), publicURL: 'https://x' } as never),
    'publicURL',
    'publicUrl',
  ],
  [
    'createAdmin verify',
    () => createAdmin({ store: createMemoryKeyStore(), adminSecret: new Uint8Array(32), verify: { nonceStor: {} } } as never),
    'nonceStor',
    'nonceStore',
  ],
  ['createLinkToken', () => createLinkToken(new Uint8Array(32), { role: 'operator' }, { ttl: 1000 } as never), 'ttl', 'ttlMs'],
  [
    'createPostgresAuditLog',
    () => createPostgresAuditLog({ connectionString: 'postgres://127.0.0.1/test', shema: 'x' } as never),
    'shema',
    'schema',
  ],
]

describe('an unknown option is refused, naming the closest known one', () => {
  it.each(table)('%s', async (_name, call, field, suggestion) => {
    expectUnknown(await thrown(call), field, suggestion)
  })

  // The three the issue names: each used to verify as if the option were not there.
  it('createVerifier({ keys, requireScopes }) is refused instead of verifying with no scope check', () => {
    expect(() => createVerifier({ keys, requireScopes: ['admin'] } as never)).toThrow(
      'invalid verify options: requireScopes: unknown option, did you mean `requiredScopes`?',
    )
  })
  it('nonceStor is refused instead of falling back to the per-process store', () => {
    expect(() => createVerifier({ keys, nonceStor: createMemoryNonceStore() } as never)).toThrow(
      'invalid verify options: nonceStor: unknown option, did you mean `nonceStore`?',
    )
  })
  it('maxBodyByte is refused instead of keeping the default', () => {
    expect(() => createVerifier({ keys, maxBodyByte: 10 } as never)).toThrow(
      'invalid verify options: maxBodyByte: unknown option, did you mean `maxBodyBytes`?',
    )
  })

  it('a renamed option still names its successor, on every adapter', async () => {
    for (const make of [expressSigil, honoSigil, createVerifier]) {
      expect(() => make({ keys, window: 300 } as never)).toThrow('`window` was renamed `windowMs` (milliseconds)')
    }
    expect(() => expressSigil({ keys, publicAuthority: 'x' } as never)).toThrow('`publicAuthority` was renamed `authority`')
    expect(() => createMemoryRateLimiter({ rate: { points: 1, windowSeconds: 1 } } as never)).toThrow(
      'invalid rate limit policy: rate.windowSeconds: `windowSeconds` was renamed `windowMs` (milliseconds)',
    )
    expect(() => generateKey({ principal: 'a', limits: {} } as never)).toThrow(
      'invalid key options: limits: `limits` was renamed `rateLimits`',
    )
  })

  it('an adapter option given to the verifier says where it goes', () => {
    expect(() => withSigil({ keys, exempt: ['/healthz'] } as never, () => {})).toThrow(
      'invalid verify options: exempt: an adapter option: pass it to sigil(), or as withSigil(options, handler, { exempt })',
    )
  })

  it('an option far from every known name lists the known ones', () => {
    expect(() => createMemoryNonceStore({ zzzzzzzz: 1 } as never)).toThrow(
      'invalid memory nonce store options: zzzzzzzz: unknown option (known: maxEntriesPerKey, maxEntries, now)',
    )
  })

  it('the CLI exits 64 on an unknown flag, naming the closest one', async () => {
    const err: string[] = []
    const io = {
      stdout: { write: () => {} },
      stderr: { write: (s: string) => err.push(s) },
      env: {},
      cwd: '/nonexistent-sigil-cwd',
    }
    expect(await run(['keys', 'create', '--principl', 'acme'], io)).toBe(EXIT.USAGE)
    expect(err.join('')).toContain('unknown option --principl, did you mean --principal?')
    err.length = 0
    expect(await run(['keys', 'list', '--jsn'], io)).toBe(EXIT.USAGE)
    expect(err.join('')).toContain('unknown option --jsn, did you mean --json?')
  })
})

describe('renamed exports name their successor', () => {
  it('msw withSignature → withSigil', async () => {
    const msw = await import('@sigil/server/msw')
    expect(() => msw.withSignature({ keys: {} }, () => new Response())).toThrow(/`withSignature` was renamed `withSigil`/)
  })
})

describe('no tag is `false` on both sides', () => {
  it('verify options refuse `tag: null`, naming `false`; `tag: false` accepts one untagged signature', async () => {
    expect(() => createVerifier({ keys, tag: null } as never)).toThrow('invalid verify options: tag: `null` was renamed `false` (no tag)')
    expect(createVerifier({ keys, tag: false }).config.tag).toBeNull()
  })
})

describe('a rate limiter written against the old decision fields', () => {
  it('is refused naming windowMs and resetMs, never treated as a pass', async () => {
    const { signRequest } = await import('@sigil/client')
    const old = { consume: async () => ({ allowed: true, limit: 5, remaining: 4, resetSeconds: 1, windowSeconds: 60 }) as never }
    const req = await signRequest(new Request('https://api.example.com/v1/orders'), { keyId: 'k1', secret: keys.k1 })
    const e = (await verify(req, { keys, rateLimiter: old }).then(
      () => undefined,
      (err: unknown) => err,
    )) as { status?: number; message?: string; cause?: { message?: string } } | undefined
    expect(e?.status).toBe(500)
    expect(`${e?.message} ${e?.cause?.message}`).toMatch(/`windowSeconds` was renamed `windowMs`/)
  })
})
