import { ConfigurationError, parseToken, SigilError } from '@sigil/core'
import { toBase64, toBase64Url } from '@sigil/core/internal'
import { afterEach, describe, expect, it } from 'vitest'
import type { EncryptedKeyStore, KeyChangeEvent, KeyStore } from './key-store.js'
import { generateMasterKey } from './master-key.js'

/** What the conformance suite needs to drive one store implementation, fresh for each test. */
export interface KeyStoreHarness {
  /** Open a store on this test's storage. Called again within a test to reopen it (other master keys). */
  open(options: { now: () => number; masterKey: string }): Promise<KeyStore> | KeyStore
  /** Persistent stores: enables the at-rest, reopen and master-key tests. */
  persistent?: {
    /** Every column value of every stored row, read straight from the database. */
    dumpRows(): Promise<unknown[][]> | unknown[][]
    /** Open without a master key; must throw `ConfigurationError`. */
    openWithoutMasterKey(): Promise<unknown> | unknown
  }
  cleanup?(): Promise<void> | void
}

const HOUR = 3_600_000

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (e) {
    return e instanceof SigilError ? e.code : `not a SigilError: ${String(e)}`
  }
  return undefined
}

function bytesOf(v: unknown): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v)
  return Buffer.from(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))
}

/**
 * Register the key-store conformance suite (vitest `describe`/`it`) for one implementation.
 * Every store in this package passes it; run it on yours.
 *
 * @example
 * ```ts
 * import { describeKeyStore } from '@sigil/keys/testing'
 * describeKeyStore('memory', () => ({ open: (o) => createMemoryKeyStore(o) }))
 * ```
 */
export function describeKeyStore(name: string, createHarness: () => Promise<KeyStoreHarness> | KeyStoreHarness): void {
  describe(`KeyStore conformance: ${name}`, () => {
    let t = Date.parse('2030-01-01T00:00:00Z')
    const now = () => t
    const opened: KeyStore[] = []
    let harness: KeyStoreHarness | undefined
    const mk1 = generateMasterKey('v1')
    const setup = async (masterKey = mk1) => {
      t = Date.parse('2030-01-01T00:00:00Z')
      harness ??= await createHarness()
      return reopen(masterKey)
    }
    const reopen = async (masterKey: string) => {
      const s = await (harness as KeyStoreHarness).open({ now, masterKey })
      opened.push(s)
      return s
    }
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
      await harness?.cleanup?.()
      harness = undefined
    })

    it('creates a key whose token, secret and record agree', async () => {
      const s = await setup()
      const c = await s.create({ principal: 'acme', scopes: ['orders:read', 'orders:write'], metadata: { env: 'test' } })
      const parsed = parseToken(c.token)
      expect(parsed.keyId).toBe(c.keyId)
      expect(Buffer.from(parsed.secret).equals(Buffer.from(c.secret))).toBe(true)
      expect(c.secret.length).toBeGreaterThanOrEqual(32)
      const r = await s.get(c.keyId)
      expect(r).toMatchObject({ keyId: c.keyId, principal: 'acme', status: 'active', algorithm: 'hmac-sha256', metadata: { env: 'test' } })
      expect([...(r?.scopes ?? [])]).toEqual(['orders:read', 'orders:write'])
      expect(r?.createdAt.getTime()).toBe(t)
      expect(Buffer.from(r?.secret ?? []).equals(Buffer.from(c.secret))).toBe(true)
      expect(c.key).not.toHaveProperty('secret')
    })

    it('answers lookup (where the store has it) exactly as get, revoked and unknown keys included', async () => {
      const s = await setup()
      if (typeof s.lookup !== 'function') return
      const a = await s.create({ principal: 'acme', scopes: ['orders:read'], metadata: { env: 'test' } })
      const b = await s.create({ principal: 'acme' })
      await s.revoke(b.keyId)
      for (const id of [a.keyId, b.keyId, 'NoSuchKey123']) expect(await s.lookup(id)).toEqual(await s.get(id))
    })

    it('answers undefined for an unknown key and KEY_UNKNOWN to admin calls', async () => {
      const s = await setup()
      expect(await s.get('NoSuchKey123')).toBeUndefined()
      expect(await s.info('NoSuchKey123')).toBeUndefined()
      const calls = [
        () => s.revoke('NoSuchKey123'),
        () => s.rotate('NoSuchKey123'),
        () => s.setScopes('NoSuchKey123', []),
        () => s.expire('NoSuchKey123'),
      ]
      for (const call of calls) expect(await code(call())).toBe('KEY_UNKNOWN')
    })

    it('validates input with a ConfigurationError', async () => {
      const s = await setup()
      await expect(s.create({ principal: '' })).rejects.toBeInstanceOf(ConfigurationError)
      await expect(s.create({ principal: 'a', scopes: ['has space'] })).rejects.toBeInstanceOf(ConfigurationError)
    })

    it('lists keys without secrets, filtered by principal and effective status', async () => {
      const s = await setup()
      const a = await s.create({ principal: 'acme' })
      t += 1000
      const b = await s.create({ principal: 'acme', expiresAt: new Date(t + 500) })
      t += 1
      const c = await s.create({ principal: 'globex' })
      t += 1000
      const byId = (...ids: string[]) => ids.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
      expect((await s.list()).map((k) => k.keyId)).toEqual(byId(a.keyId, b.keyId, c.keyId))
      expect((await s.list({ principal: 'acme' })).map((k) => k.keyId)).toEqual(byId(a.keyId, b.keyId))
      expect((await s.list({ status: 'expired' })).map((k) => k.keyId)).toEqual([b.keyId])
      for (const k of await s.list()) expect(k).not.toHaveProperty('secret')
    })

    it('revokes immediately and idempotently', async () => {
      const s = await setup()
      const events: KeyChangeEvent[] = []
      s.onChange((e) => events.push(e))
      const c = await s.create({ principal: 'acme' })
      const info = await s.revoke(c.keyId)
      expect(info.status).toBe('revoked')
      expect((await s.get(c.keyId))?.status).toBe('revoked')
      expect((await s.info(c.keyId))?.revokedAt?.getTime()).toBe(t)
      expect((await s.revoke(c.keyId)).status).toBe('revoked')
      expect(events.map((e) => e.type)).toEqual(['created', 'revoked'])
      expect(await code(s.rotate(c.keyId))).toBe('KEY_REVOKED')
    })

    it('sets scopes and expiry', async () => {
      const s = await setup()
      const c = await s.create({ principal: 'acme', scopes: ['a'] })
      await s.setScopes(c.keyId, ['b', 'c', 'b'])
      expect([...((await s.get(c.keyId))?.scopes ?? [])]).toEqual(['b', 'c'])
      await s.expire(c.keyId, new Date(t + HOUR))
      t += HOUR - 1
      expect((await s.get(c.keyId))?.status).toBe('active')
      t += 1
      expect((await s.get(c.keyId))?.status).toBe('expired')
      expect(await code(s.rotate(c.keyId))).toBe('KEY_EXPIRED')
    })

    it('honours expiresAt given at creation', async () => {
      const s = await setup()
      const c = await s.create({ principal: 'acme', expiresAt: new Date(t + 10_000) })
      expect((await s.get(c.keyId))?.expiresAt?.getTime()).toBe(t + 10_000)
      t += 9_999
      expect((await s.get(c.keyId))?.status).toBe('active')
      t += 1
      expect((await s.get(c.keyId))?.status).toBe('expired')
    })

    it('keeps a test key a test key: sigil_tk_ token, stored, listed and kept on rotation', async () => {
      const s = await setup()
      const c = await s.create({ principal: 'acme', test: true })
      const live = await s.create({ principal: 'acme' })
      expect(c.token.startsWith('sigil_tk_')).toBe(true)
      expect(live.token.startsWith('sigil_sk_')).toBe(true)
      expect((await s.get(c.keyId))?.test).toBe(true)
      expect((await s.get(live.keyId))?.test).toBeUndefined()
      expect((await s.list({ principal: 'acme' })).find((k) => k.keyId === c.keyId)?.test).toBe(true)
      const next = await s.rotate(c.keyId)
      expect(next.token.startsWith('sigil_tk_')).toBe(true)
      expect((await s.get(next.keyId))?.test).toBe(true)
    })

    it('rotates with a grace period: both keys work until it ends, then only the new one', async () => {
      const s = await setup()
      const events: KeyChangeEvent[] = []
      s.onChange((e) => events.push(e))
      const old = await s.create({ principal: 'acme', scopes: ['x'], rateLimits: { rate: { points: 10, windowMs: 1000 } } })
      const r = await s.rotate(old.keyId, { graceMs: HOUR })
      expect(r.keyId).not.toBe(old.keyId)
      expect(r.previous).toMatchObject({ keyId: old.keyId, replacedBy: r.keyId, status: 'active' })
      expect(r.previous.notAfter?.getTime()).toBe(t + HOUR)
      const next = await s.get(r.keyId)
      expect(next).toMatchObject({ principal: 'acme', status: 'active', rateLimits: { rate: { points: 10, windowMs: 1000 } } })
      expect([...(next?.scopes ?? [])]).toEqual(['x'])
      expect(parseToken(r.token).keyId).toBe(r.keyId)
      expect(events.find((e) => e.type === 'rotated')).toMatchObject({ keyId: old.keyId, replacedBy: r.keyId })
      t += HOUR - 1
      expect((await s.get(old.keyId))?.status).toBe('active')
      expect((await s.get(old.keyId))?.notAfter?.getTime()).toBe(t + 1)
      t += 1
      expect((await s.get(old.keyId))?.status).toBe('expired')
      expect((await s.get(r.keyId))?.status).toBe('active')
      expect(await code(s.rotate(old.keyId))).toBe('KEY_EXPIRED')
    })

    it('ends the old key at once with graceMs 0, and lets only one concurrent rotation win', async () => {
      const s = await setup()
      const a = await s.create({ principal: 'acme' })
      await s.rotate(a.keyId, { graceMs: 0 })
      expect((await s.get(a.keyId))?.status).toBe('expired')
      const b = await s.create({ principal: 'acme' })
      const results = await Promise.allSettled([s.rotate(b.keyId), s.rotate(b.keyId), s.rotate(b.keyId)])
      expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1)
      expect((await s.list({ principal: 'acme' })).length).toBe(4)
    })

    it('updates atomically: add/remove scopes, merge metadata, rate limits, expiry; versions and events', async () => {
      const s = await setup()
      const events: string[] = []
      s.onChange((e) => events.push(e.type))
      const c = await s.create({ principal: 'acme', scopes: ['a', 'b'], metadata: { team: 'x', tier: 'gold' } })
      expect(c.key.version).toBe(0)
      let k = await s.update(c.keyId, { addScopes: ['c', 'a'], removeScopes: ['b'] })
      expect([...k.scopes]).toEqual(['a', 'c'])
      expect(k.version).toBe(1)
      k = await s.update(c.keyId, { mergeMetadata: { tier: null, region: 'eu' } })
      expect(k.metadata).toEqual({ team: 'x', region: 'eu' })
      k = await s.update(c.keyId, { rateLimits: { rate: { points: 5, windowMs: 1000 } }, expiresAt: new Date(t + HOUR) })
      expect(k).toMatchObject({ rateLimits: { rate: { points: 5, windowMs: 1000 } }, version: 3 })
      expect(k.expiresAt?.getTime()).toBe(t + HOUR)
      k = await s.update(c.keyId, { rateLimits: null, expiresAt: null, metadata: null })
      expect(k.rateLimits).toBeUndefined()
      expect(k.expiresAt).toBeUndefined()
      expect(k.metadata).toBeUndefined()
      expect(await s.info(c.keyId)).toMatchObject({ version: 4, scopes: ['a', 'c'] })
      expect(events).toEqual(['created', 'scopes', 'updated', 'updated', 'updated'])
      await expect(s.update(c.keyId, { scopes: ['x'], addScopes: ['y'] })).rejects.toBeInstanceOf(ConfigurationError)
      await expect(s.update(c.keyId, { addScopes: ['has space'] })).rejects.toBeInstanceOf(ConfigurationError)
      await expect(s.update(c.keyId, { rateLimits: { rate: { points: -1 } } as never })).rejects.toBeInstanceOf(ConfigurationError)
      // Renamed fields are refused naming the new one, never silently dropped.
      await expect(s.update(c.keyId, { limits: { rate: { points: 5, windowMs: 1000 } } } as never)).rejects.toMatchObject({
        name: 'ConfigurationError',
        message: 'invalid key update: limits: `limits` was renamed `rateLimits`',
      })
      await expect(s.create({ principal: 'acme', rateLimits: { rate: { points: 5, windowSeconds: 1 } } } as never)).rejects.toMatchObject({
        name: 'ConfigurationError',
        message: expect.stringContaining('rateLimits.rate.windowSeconds: `windowSeconds` was renamed `windowMs` (milliseconds)'),
      })
    })

    it('compare-and-set: ifVersion applies once, a stale version is KEY_CONFLICT and changes nothing', async () => {
      const s = await setup()
      const c = await s.create({ principal: 'acme', scopes: ['a'] })
      const v = (await s.info(c.keyId))?.version as number
      await s.update(c.keyId, { scopes: ['b'] }, { ifVersion: v })
      expect(await code(s.update(c.keyId, { scopes: ['c'] }, { ifVersion: v }))).toBe('KEY_CONFLICT')
      expect([...((await s.info(c.keyId))?.scopes ?? [])]).toEqual(['b'])
      await s.revoke(c.keyId)
      expect(await code(s.update(c.keyId, { scopes: ['d'] }, { ifVersion: v + 1 }))).toBe('KEY_CONFLICT')
      expect(await code(s.update('NoSuchKey123', { scopes: [] }, { ifVersion: 0 }))).toBe('KEY_UNKNOWN')
    })

    it('loses no write when many edits of one key run at once', async () => {
      const s = await setup()
      const c = await s.create({ principal: 'acme', scopes: ['keep', 'drop'] })
      const adds = Array.from({ length: 12 }, (_, i) => `s${i}`)
      await Promise.all([
        ...adds.map((x) => s.update(c.keyId, { addScopes: [x] })),
        s.update(c.keyId, { removeScopes: ['drop'] }),
        ...adds.map((x) => s.update(c.keyId, { mergeMetadata: { [x]: true } })),
      ])
      const k = await s.info(c.keyId)
      expect([...(k?.scopes ?? [])].sort()).toEqual(['keep', ...adds].sort())
      expect(Object.keys(k?.metadata ?? {}).sort()).toEqual([...adds].sort())
      expect(k?.version).toBe(25)
    })

    it('pages through keys by key id, filters evaluated with the page', async () => {
      const s = await setup()
      const made: string[] = []
      for (let i = 0; i < 7; i++) made.push((await s.create({ principal: i % 2 ? 'odd' : 'even' })).keyId)
      await s.revoke(made[0] as string)
      await s.expire(made[2] as string)
      t += 1
      const sorted = [...made].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
      const pages: string[][] = []
      let after: string | undefined
      for (;;) {
        const page = await s.list({ limit: 3, ...(after ? { after } : {}) })
        if (page.length === 0) break
        pages.push(page.map((k) => k.keyId))
        after = page[page.length - 1]?.keyId
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1])
      expect(pages.flat()).toEqual(sorted)
      const activeEven = sorted.filter((id) => made.indexOf(id) % 2 === 0 && id !== made[0] && id !== made[2])
      const first = await s.list({ principal: 'even', status: 'active', limit: 1 })
      expect(first.map((k) => k.keyId)).toEqual(activeEven.slice(0, 1))
      const rest = await s.list({ principal: 'even', status: 'active', after: first[0]?.keyId as string })
      expect(rest.map((k) => k.keyId)).toEqual(activeEven.slice(1))
      expect((await s.list({ status: 'revoked' })).map((k) => k.keyId)).toEqual([made[0]])
      expect((await s.list({ status: 'expired' })).map((k) => k.keyId)).toEqual([made[2]])
      await expect(s.list({ limit: 0 })).rejects.toBeInstanceOf(ConfigurationError)
    })

    it('stops notifying an unsubscribed listener and survives a throwing one', async () => {
      const s = await setup()
      const seen: string[] = []
      s.onChange(() => {
        throw new Error('listener bug')
      })
      const off = s.onChange((e) => seen.push(e.type))
      const c = await s.create({ principal: 'acme' })
      off()
      await s.revoke(c.keyId)
      expect(seen).toEqual(['created'])
    })

    // The key plane's one rule: every path that yields a working key runs the checks of create (key-grant.ts).
    it('keeps the old key expiry on rotation unless told otherwise', async () => {
      const s = await setup()
      const expiresAt = new Date(t + HOUR)
      const old = await s.create({ principal: 'acme', expiresAt })
      const r = await s.rotate(old.keyId, { graceMs: 0 })
      expect((await s.info(r.keyId))?.expiresAt).toEqual(expiresAt)
      expect((await s.rotate(r.keyId, { graceMs: 0, expiresAt: null })).key.expiresAt).toBeUndefined()
    })

    it('applies a grant: scopes, principal and expiry on rotate and edits', async () => {
      const s = await setup()
      const grant = { principal: 'acme', scopes: ['orders:read'], extendExpiry: false }
      const wide = await s.create({ principal: 'acme', scopes: ['orders:read', 'admin'], expiresAt: new Date(t + HOUR) })
      expect(await code(s.rotate(wide.keyId, { grant }))).toBe('SCOPE_NOT_ALLOWED')
      expect(await code(s.update(wide.keyId, { addScopes: ['orders:write'] }, { grant }))).toBe('SCOPE_NOT_ALLOWED')
      expect(await code(s.update(wide.keyId, { expiresAt: null }, { grant }))).toBe('EXPIRY_NOT_ALLOWED')
      expect((await s.info(wide.keyId))?.replacedBy).toBeUndefined()
      const other = await s.create({ principal: 'globex' })
      expect(await code(s.revoke(other.keyId, { grant }))).toBe('KEY_UNKNOWN')
      expect(await code(s.create({ principal: 'globex' }, { grant }))).toBe('PRINCIPAL_NOT_ALLOWED')
      const narrow = await s.create({ principal: 'acme', scopes: ['orders:read'], expiresAt: new Date(t + HOUR) })
      const r = await s.rotate(narrow.keyId, { graceMs: 0, grant })
      expect(r.key.expiresAt).toEqual(new Date(t + HOUR))
    })

    it('counts keys in grace against maxKeys, atomically under concurrent writes', async () => {
      const s = await setup()
      const grant = { principal: 'acme', maxKeys: 1 }
      const settled = await Promise.allSettled(Array.from({ length: 20 }, () => s.create({ principal: 'acme' }, { grant })))
      expect(settled.filter((x) => x.status === 'fulfilled').length).toBe(1)
      const [k] = await s.list({ principal: 'acme' })
      expect(await code(s.rotate(k?.keyId as string, { graceMs: HOUR, grant }))).toBe('KEY_LIMIT')
      await s.rotate(k?.keyId as string, { graceMs: 0, grant })
      expect((await s.list({ principal: 'acme', status: 'active' })).length).toBe(1)
    })

    it('spends a one-time token exactly once, under concurrent spends too (sessions, where the store keeps them)', async () => {
      const s = await setup()
      if (!s.sessions) return
      const sessions = s.sessions
      const exp = new Date(t + HOUR)
      const token = toBase64Url(new Uint8Array(16).fill(7))
      const spent = await Promise.all(Array.from({ length: 20 }, () => sessions.spend(token, exp, new Date(t))))
      expect(spent.filter(Boolean).length).toBe(1)
      expect(await sessions.spend(token, exp, new Date(t))).toBe(false)
      // An expired token is never spendable; another token is.
      expect(await sessions.spend(`${token}x`, new Date(t), new Date(t))).toBe(false)
      expect(await sessions.spend(`${token}y`, exp, new Date(t))).toBe(true)
    })

    it('reads a session until it expires (in the query) or is revoked, and sweeps what expired', async () => {
      const s = await setup()
      if (!s.sessions) return
      const sessions = s.sessions
      const a = toBase64Url(new Uint8Array(32).fill(1))
      const b = toBase64Url(new Uint8Array(32).fill(2))
      await sessions.create(a, '{"who":"a"}', new Date(t + HOUR))
      await sessions.create(b, '{"who":"b"}', new Date(t + 2 * HOUR))
      expect(await sessions.read(a, new Date(t))).toEqual({ data: '{"who":"a"}', expiresAt: new Date(t + HOUR) })
      expect(await sessions.read(toBase64Url(new Uint8Array(32).fill(3)), new Date(t))).toBeUndefined()
      expect(await sessions.read(a, new Date(t + HOUR))).toBeUndefined()
      expect((await sessions.read(b, new Date(t + HOUR)))?.data).toBe('{"who":"b"}')
      await sessions.revoke(b)
      expect(await sessions.read(b, new Date(t))).toBeUndefined()
      await sessions.spend(toBase64Url(new Uint8Array(16).fill(4)), new Date(t + HOUR), new Date(t))
      expect(await sessions.sweep(new Date(t + HOUR))).toBe(2)
      expect(await sessions.sweep(new Date(t + HOUR))).toBe(0)
    })
  })
}

/**
 * Extra conformance for persistent stores: secrets encrypted at rest, refusal without a master
 * key, master-key rotation and a wrong master key failing clearly.
 *
 * @example
 * ```ts
 * describeEncryptedKeyStore('sqlite', () => sqliteHarness())
 * ```
 */
export function describeEncryptedKeyStore(name: string, createHarness: () => Promise<KeyStoreHarness> | KeyStoreHarness): void {
  describe(`EncryptedKeyStore conformance: ${name}`, () => {
    const now = Date.now
    const opened: KeyStore[] = []
    let harness: KeyStoreHarness
    const open = async (masterKey: string) => {
      const s = (await harness.open({ now, masterKey })) as EncryptedKeyStore
      opened.push(s)
      return s
    }
    const persistent = () => {
      if (!harness.persistent) throw new Error('describeEncryptedKeyStore needs harness.persistent')
      return harness.persistent
    }
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
      await harness?.cleanup?.()
    })

    it('never stores the secret in clear', async () => {
      harness = await createHarness()
      const s = await open(generateMasterKey('v1'))
      const keys = await Promise.all([1, 2, 3].map(() => s.create({ principal: 'acme' })))
      const rows = await persistent().dumpRows()
      expect(rows.length).toBe(3)
      const raw = Buffer.concat(rows.flat().map(bytesOf))
      for (const k of keys) {
        for (const form of [Buffer.from(k.secret), Buffer.from(toBase64(k.secret)), Buffer.from(toBase64Url(k.secret))]) {
          expect(raw.includes(form)).toBe(false)
        }
        expect(raw.includes(Buffer.from(Buffer.from(k.secret).toString('hex')))).toBe(false)
        expect(raw.includes(Buffer.from(k.keyId))).toBe(true)
      }
      expect(raw.includes(Buffer.from('v1'))).toBe(true)
    })

    it('refuses to open without a master key', async () => {
      harness = await createHarness()
      await expect(Promise.resolve().then(() => persistent().openWithoutMasterKey())).rejects.toBeInstanceOf(ConfigurationError)
    })

    it('refuses a wrong master key at open, before anything is written', async () => {
      harness = await createHarness()
      const right = generateMasterKey('v1')
      const s = await open(right)
      await s.create({ principal: 'acme' })
      await s.close()
      const before = JSON.stringify(await persistent().dumpRows(), (_k, v) => (v instanceof Uint8Array ? [...v] : v))
      for (const wrong of [
        generateMasterKey('v1'),
        generateMasterKey('v1').slice(3),
        `${generateMasterKey('v2')},${generateMasterKey('v1')}`,
      ]) {
        const e = await Promise.resolve()
          .then(() => open(wrong))
          .then(
            () => undefined,
            (x: unknown) => x,
          )
        expect(e).toBeInstanceOf(ConfigurationError)
        expect(String((e as Error).message)).toMatch(/does not match this key store: master-key version v1/)
        expect(String((e as Error).message)).not.toContain(wrong.split(',')[0]?.replace(/^v\d:/, '') as string)
      }
      expect(JSON.stringify(await persistent().dumpRows(), (_k, v) => (v instanceof Uint8Array ? [...v] : v))).toBe(before)
      // The right key (bare form: version v1) and a new version next to it still open.
      await (await open(right.slice(3))).close()
      await (await open(`${generateMasterKey('v2')},${right}`)).close()
    })

    it('refuses once, before writing anything, when the master key lacks a version rows use; rotates in batches, resumably, with progress', async () => {
      harness = await createHarness()
      const v0 = generateMasterKey('v0')
      const v1 = generateMasterKey('v1')
      const v2 = generateMasterKey('v2')
      const s0 = await open(v0)
      const lost = [await s0.create({ principal: 'old' }), await s0.create({ principal: 'old' })]
      await s0.close()
      const s1 = await open(v1)
      const good = await Promise.all(Array.from({ length: 6 }, () => s1.create({ principal: 'acme' })))
      await s1.close()
      // v0 is no longer configured: one error naming it and its key count, and nothing re-encrypted.
      const s = await open(`${v2},${v1}`)
      const refused = await s.rotateMasterKey().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(refused).toBeInstanceOf(ConfigurationError)
      expect((refused as Error).message).toMatch(/2 key\(s\) under master-key version v0/)
      expect((refused as Error).message).not.toMatch(/\n/)
      for (const k of good) expect((await s.info(k.keyId))?.masterKeyVersion).toBe('v1')
      await s.close()

      // With v0 back: batches of 3, interrupted after the first, then resumed where it stopped.
      const all = await open(`${v2},${v1},${v0}`)
      const seen: Array<{ done: number; total: number }> = []
      const stop = new Error('interrupted')
      const first = await all
        .rotateMasterKey({
          batchSize: 3,
          onProgress: (p) => {
            seen.push({ done: p.done, total: p.total })
            if (p.done > 0) throw stop
          },
        })
        .catch((e: unknown) => e)
      expect(first).toBe(stop)
      expect(seen).toEqual([
        { done: 0, total: 8 },
        { done: 3, total: 8 },
      ])
      const progress: number[] = []
      const rest = await all.rotateMasterKey({ batchSize: 3, onProgress: (p) => progress.push(p.done) })
      expect(rest).toEqual({ reencrypted: 5, current: 'v2', failed: [] })
      expect(progress).toEqual([0, 3, 5])
      for (const k of [...lost, ...good]) {
        expect((await all.info(k.keyId))?.masterKeyVersion).toBe('v2')
        expect(Buffer.from((await all.get(k.keyId))?.secret ?? []).equals(Buffer.from(k.secret))).toBe(true)
      }
      expect(await all.rotateMasterKey()).toEqual({ reencrypted: 0, current: 'v2', failed: [] })
    })

    it('rotates the master key: re-encrypts under the new version, old key no longer needed', async () => {
      harness = await createHarness()
      const v1 = generateMasterKey('v1')
      const v2 = generateMasterKey('v2')
      const s1 = await open(v1)
      const a = await s1.create({ principal: 'acme' })
      const b = await s1.create({ principal: 'globex' })
      await s1.close()
      const both = await open(`${v2},${v1}`)
      expect((await both.info(a.keyId))?.masterKeyVersion).toBe('v1')
      const c = await both.create({ principal: 'initech' })
      expect((await both.info(c.keyId))?.masterKeyVersion).toBe('v2')
      expect(await both.rotateMasterKey()).toEqual({ reencrypted: 2, current: 'v2', failed: [] })
      expect(await both.rotateMasterKey()).toEqual({ reencrypted: 0, current: 'v2', failed: [] })
      await both.close()
      const only2 = await open(v2)
      for (const k of [a, b, c]) {
        expect(Buffer.from((await only2.get(k.keyId))?.secret ?? []).equals(Buffer.from(k.secret))).toBe(true)
        expect((await only2.info(k.keyId))?.masterKeyVersion).toBe('v2')
      }
      // A wrong key for a known version is refused at open, before anything is written.
      await expect(Promise.resolve().then(() => open(generateMasterKey('v2')))).rejects.toThrow(/does not match this key store/)
      const missing = await open(v1)
      await expect(missing.get(a.keyId)).rejects.toThrow(/master-key version v2/)
    })
  })
}
