import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemorySessionStore, type EncryptedKeyStore, generateMasterKey, type KeyStore } from '@sigil/keys'
import { createSqliteKeyStore, openSqliteDatabase } from '@sigil/keys/sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { deriveAdminSecret } from './links.js'
import { createPortalSessions } from './sessions.js'

const dir = mkdtempSync(join(tmpdir(), 'sigil-sessions-'))
const masterKey = generateMasterKey('v1')
const secret = deriveAdminSecret(masterKey)
const stores: EncryptedKeyStore[] = []
afterAll(async () => {
  for (const s of stores) await s.close()
  rmSync(dir, { recursive: true, force: true })
})

function open(path: string): EncryptedKeyStore {
  const s = createSqliteKeyStore({ path, masterKey })
  stores.push(s)
  return s
}
const idOf = (token: string) => createHash('sha256').update('sigil-session\0').update(token).digest('base64url')

describe('portal sessions in the key store', () => {
  it('are shared by two instances on one file: same claims, same CSRF token, one sign-out for both', async () => {
    const path = join(dir, 'shared.db')
    let t = Date.parse('2031-01-01T00:00:00Z')
    const a = createPortalSessions({ store: open(path).sessions, adminSecret: secret, now: () => t })
    const b = createPortalSessions({ store: open(path).sessions, adminSecret: secret, now: () => t })
    const s = await a.create({ role: 'partner', principal: 'acme', maxKeys: 2, allowedScopes: ['orders:read'] })
    expect(await b.get(s.id)).toEqual(s)
    // An instance with another portal secret (another master key) reads no session.
    const other = createPortalSessions({
      store: open(path).sessions,
      adminSecret: deriveAdminSecret(generateMasterKey('v1')),
      now: () => t,
    })
    expect(await other.get(s.id)).toBeUndefined()
    await b.destroy(s.id)
    expect(await a.get(s.id)).toBeUndefined()
    // Expiry: 8 hours, on every instance.
    const s2 = await a.create({ role: 'operator', name: 'alice' })
    t += 8 * 3600_000 - 1
    expect((await b.get(s2.id))?.claims).toEqual({ role: 'operator', name: 'alice' })
    t += 1
    expect(await b.get(s2.id)).toBeUndefined()
    expect(await a.get(s2.id)).toBeUndefined()
  })

  it('deletes expired sessions and spent links when someone signs in 10 minutes after the last sweep', async () => {
    const path = join(dir, 'sweep.db')
    let t = Date.parse('2031-01-01T00:00:00Z')
    const sessions = createPortalSessions({ store: open(path).sessions, adminSecret: secret, now: () => t })
    const old = await sessions.create({ role: 'operator' })
    await sessions.spendLink(randomBytes(16).toString('base64url'), t + 60_000)
    const db = openSqliteDatabase(path, { readonly: true })
    const count = () =>
      Number(db.prepare('SELECT (SELECT count(*) FROM sigil_keys_sessions) + (SELECT count(*) FROM sigil_keys_spent_tokens) AS n').get()?.n)
    try {
      expect(count()).toBe(2)
      t += 8 * 3600_000
      await sessions.create({ role: 'operator' })
      await new Promise((r) => setImmediate(r))
      expect(count()).toBe(1) // the new session only
      expect(await sessions.get(old.id)).toBeUndefined()
    } finally {
      db.close()
    }
  })

  it('spends a link once across instances', async () => {
    const path = join(dir, 'links.db')
    const a = createPortalSessions({ store: open(path).sessions, adminSecret: secret })
    const b = createPortalSessions({ store: open(path).sessions, adminSecret: secret })
    const jti = randomBytes(16).toString('base64url')
    const exp = Date.now() + 60_000
    expect(await Promise.all([a.spendLink(jti, exp), b.spendLink(jti, exp), a.spendLink(jti, exp)])).toEqual([true, false, false])
    expect(await b.spendLink(randomBytes(16).toString('base64url'), exp)).toBe(true)
  })

  it('fails closed on a row changed or written without the portal secret', async () => {
    const path = join(dir, 'tamper.db')
    const sessions = createPortalSessions({ store: open(path).sessions, adminSecret: secret })
    const partner = await sessions.create({ role: 'partner', principal: 'acme', maxKeys: 1, allowedScopes: [] })
    const operator = await sessions.create({ role: 'operator' })
    const db = openSqliteDatabase(path)
    try {
      const row = (id: string) => db.prepare('SELECT data FROM sigil_keys_sessions WHERE id = ?').get(idOf(id))?.data as string
      // The partner's row, its claims raised to the operator's, MAC kept.
      const raised = row(partner.id).replace(/"c":\{[^}]*\}/, '"c":{"role":"operator"}')
      expect(raised).not.toBe(row(partner.id))
      db.prepare('UPDATE sigil_keys_sessions SET data = ? WHERE id = ?').run(raised, idOf(partner.id))
      expect(await sessions.get(partner.id)).toBeUndefined()
      // The operator's whole row (claims and MAC) copied onto a token the writer chose.
      const chosen = randomBytes(32).toString('base64url')
      db.prepare('INSERT INTO sigil_keys_sessions (id, data, expires_at) VALUES (?, ?, ?)').run(
        idOf(chosen),
        row(operator.id),
        Date.now() + 3600_000,
      )
      expect(await sessions.get(chosen)).toBeUndefined()
      expect((await sessions.get(operator.id))?.claims).toEqual({ role: 'operator' })
    } finally {
      db.close()
    }
  })

  it('stay in the process for a store without sessions', async () => {
    const store = { sessions: undefined } as unknown as KeyStore
    const a = createPortalSessions({ adminSecret: secret, ...(store.sessions ? { store: store.sessions } : {}) })
    const b = createPortalSessions({ adminSecret: secret, store: createMemorySessionStore() })
    const s = await a.create({ role: 'operator' })
    expect((await a.get(s.id))?.claims).toEqual({ role: 'operator' })
    expect(await b.get(s.id)).toBeUndefined()
  })
})
