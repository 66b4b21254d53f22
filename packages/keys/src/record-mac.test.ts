import { describe, expect, it } from 'vitest'
import type { StoredKey } from './key-backend.js'
import { parseMasterKey } from './master-key.js'
import { checkRecordMac, KeyRecordError, recordMac, recordMacInput } from './record-mac.js'

const ring = parseMasterKey('v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=')
const row: StoredKey = {
  keyId: 'abcdefghijklmnopqrstuv',
  principal: 'acme',
  scopes: ['orders:read'],
  status: 'active',
  createdAt: new Date(1_700_000_000_000),
  updatedAt: new Date(1_700_000_000_000),
  version: 3,
  metadata: { z: 1, a: { when: new Date(0), gone: undefined, list: [1, undefined, Number.NaN] } },
  sealed: { version: 'v1', data: new Uint8Array(40) },
}

describe('record MAC', () => {
  it('is the same for a row before it is stored and as a database gives it back (keys reordered, JSON rules)', () => {
    const back = { ...row, metadata: JSON.parse(JSON.stringify({ a: row.metadata?.a, z: 1 })) }
    expect(recordMacInput(back)).toBe(recordMacInput(row))
    checkRecordMac(ring, back, recordMac(ring, row))
  })

  it('changes with every authorization field, not with the row version or updatedAt', () => {
    const mac = recordMac(ring, row)
    const edits: Array<Partial<StoredKey>> = [
      { principal: 'globex' },
      { scopes: ['orders:read', 'admin'] },
      { status: 'revoked' },
      { createdAt: new Date(1) },
      { expiresAt: new Date(2) },
      { notAfter: new Date(3) },
      { revokedAt: new Date(4) },
      { replacedBy: 'x' },
      { rateLimits: { rate: { points: 1, windowMs: 1 } } },
      { metadata: { z: 2 } },
      { keyId: 'abcdefghijklmnopqrstuw' },
    ]
    for (const e of edits) expect(() => checkRecordMac(ring, { ...row, ...e }, mac), JSON.stringify(Object.keys(e))).toThrow(KeyRecordError)
    const bookkeeping: StoredKey = { ...row, version: 99, updatedAt: new Date(5) }
    checkRecordMac(ring, bookkeeping, mac)
    expect(() => checkRecordMac(ring, row, undefined)).toThrow(/no record MAC/)
  })
})
