import { describeKeyStore } from '@sigil/keys/testing'
import { describe, expect, it } from 'vitest'
import { createMemoryKeyStore } from './memory-store.js'

describeKeyStore('memory', () => ({ open: ({ now }) => createMemoryKeyStore({ now }) }))
describeKeyStore('memory, encrypted', () => ({ open: (o) => createMemoryKeyStore(o) }))

describe('createMemoryKeyStore', () => {
  it('rejects invalid options at construction', () => {
    expect(() => createMemoryKeyStore({ defaultGraceMs: -1 })).toThrow(/invalid key store options/)
    expect(() => createMemoryKeyStore({ masterKey: 'v1:short' })).toThrow(/32 bytes/)
  })
})
