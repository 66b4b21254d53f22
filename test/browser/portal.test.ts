// The developer portal (@sigil/admin) in headless Chromium, end to end: sign in by one-time link,
// create a key and read its token once, see it in the list, see usage after signed requests to
// an example API (usage through the real Redis), rotate, revoke (then a request with it fails),
// and a partner invite. Screenshots of the main pages go to docs/screenshots/ (linked from the
// README); keyboard use, labels and a 375 px layout are checked on the way.
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdmin, createLinkToken, deriveAdminSecret } from '@sigil/admin'
import { signRequest } from '@sigil/client'
import { type EncryptedKeyStore, generateMasterKey } from '@sigil/keys'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { createRedisUsageRecorder, getUsage, type RedisUsageRecorder } from '@sigil/redis'
import { sendProblem, verifyNodeRequest } from '@sigil/server/node'
import { Redis } from 'ioredis'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM_ARGS, chromiumExecutablePath } from './chromium.js'

const shots = join(import.meta.dirname, '..', '..', 'docs', 'screenshots')
const dir = mkdtempSync(join(tmpdir(), 'sigil-portal-'))
const masterKey = generateMasterKey('v1')
const prefix = `sigil-portal-test-${randomBytes(4).toString('hex')}`

describe('developer portal in a browser', () => {
  let store: EncryptedKeyStore
  let redis: Redis
  let usage: RedisUsageRecorder
  let api: Server
  let portal: Server
  let apiOrigin: string
  let portalOrigin: string
  let browser: Browser

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true })
    store = await createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey })
    redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 })
    await redis.connect()
    usage = createRedisUsageRecorder(redis, { prefix, flushIntervalMs: 50, liveness: false })
    // The partner-facing API the keys are for: verifies against the same store, records usage.
    const apiOptions = { keys: store, usage }
    api = createServer(async (req, res) => {
      try {
        const v = await verifyNodeRequest(req, apiOptions)
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ principal: v.principal }))
      } catch (e) {
        sendProblem(res, e)
      }
    }).listen(0, '127.0.0.1')
    await new Promise((r) => api.once('listening', r))
    apiOrigin = `http://127.0.0.1:${(api.address() as AddressInfo).port}`
    const admin = createAdmin({
      store,
      adminSecret: deriveAdminSecret(masterKey),
      usage: (keyId, range) => getUsage(redis, keyId, range, { prefix }),
    })
    portal = createServer(admin.handler).listen(0, '127.0.0.1')
    await new Promise((r) => portal.once('listening', r))
    portalOrigin = `http://127.0.0.1:${(portal.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: await chromiumExecutablePath(), args: CHROMIUM_ARGS })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await new Promise<void>((r) => portal.close(() => r()))
    await new Promise<void>((r) => api.close(() => r()))
    await usage.close()
    const keys = await redis.keys(`{${prefix}:*`)
    const more = await redis.keys(`${prefix}:*`)
    if (keys.length + more.length) await redis.del(...keys, ...more)
    redis.disconnect()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const signIn = async (page: Page, claims: Parameters<typeof createLinkToken>[1]) => {
    await page.goto(`${portalOrigin}/login?token=${encodeURIComponent(createLinkToken(deriveAdminSecret(masterKey), claims))}`)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${portalOrigin}/keys`)
  }
  const callApi = async (token: string, body = '{"sku":"A-1"}', swap?: string) => {
    const signed = await signRequest(
      new Request(`${apiOrigin}/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      { token },
    )
    const res = await fetch(signed.url, { method: 'POST', headers: signed.headers, body: swap ?? body })
    return { status: res.status, code: ((await res.json()) as { code?: string }).code }
  }

  it('operator: sign in, create, see, use, rotate and revoke a key', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
    const page = await context.newPage()
    page.on('dialog', (d) => void d.accept())
    await signIn(page, { role: 'operator' })

    // Keyboard: the first Tab reaches the skip link, Enter on "Create a key" opens the form.
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content')
    await page.getByRole('link', { name: 'Create a key' }).focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(`${portalOrigin}/keys/new`)
    // Every visible field has a label.
    const unlabelled = await page.evaluate(
      () =>
        [...document.querySelectorAll('input:not([type=hidden]), select')].filter((el) => (el as HTMLInputElement).labels?.length === 0)
          .length,
    )
    expect(unlabelled).toBe(0)
    await page.getByLabel('Principal').fill('acme-logistics')
    await page.getByLabel('Scopes').fill('orders:read orders:write')
    await page.getByRole('button', { name: 'Create key' }).click()
    const token = (await page.locator('#token').textContent()) ?? ''
    expect(token).toMatch(/^sigil_sk_/)
    await expect(page.getByRole('button', { name: 'Copy' }).isVisible()).resolves.toBe(true)
    await page.screenshot({ path: join(shots, 'key-created.png') })
    const keyId = token.split('_')[2] as string

    // Shown once: the list and the detail page never show it again.
    await page.goto(`${portalOrigin}/keys`)
    expect(await page.content()).toContain(keyId)
    expect(await page.content()).not.toContain(token)

    // Usage after signed requests to the example API: 3 accepted, 1 body swapped.
    for (let i = 0; i < 3; i++) expect((await callApi(token)).status).toBe(200)
    expect((await callApi(token, '{"sku":"A-1"}', '{"sku":"B-2"}')).code).toBe('DIGEST_MISMATCH')
    await usage.flush()
    await page.getByRole('link', { name: keyId }).click()
    await expect(page.locator('svg.chart').getAttribute('aria-label')).resolves.toContain('3 accepted, 1 rejected')
    expect(await page.locator('table').last().textContent()).toContain('DIGEST_MISMATCH')
    await page.screenshot({ path: join(shots, 'key-detail.png'), fullPage: true })

    // Rotate with no grace: a new token, once.
    await page.getByLabel(/Old key keeps working/).fill('0')
    await page.getByRole('button', { name: 'Rotate key' }).click()
    const next = (await page.locator('#token').textContent()) ?? ''
    expect(next).toMatch(/^sigil_sk_/)
    expect(next).not.toBe(token)
    expect((await callApi(next)).status).toBe(200)

    // Revoke the new key, with confirmation; a request with it then fails.
    await page.getByRole('link', { name: next.split('_')[2] as string }).click()
    await page.getByLabel(/I understand/).check()
    await page.getByRole('button', { name: 'Revoke key' }).click()
    await page.waitForURL(/\/keys\/[A-Za-z0-9]+$/)
    expect(await page.locator('dl').textContent()).toContain('revoked')
    expect(await callApi(next)).toEqual({ status: 401, code: 'KEY_REVOKED' })

    await page.goto(`${portalOrigin}/keys`)
    await page.screenshot({ path: join(shots, 'keys.png') })
    await page.goto(`${portalOrigin}/events`)
    const log = (await page.locator('tbody').textContent()) ?? ''
    for (const a of ['key.revoke', 'key.rotate', 'key.create', 'session.login']) expect(log).toContain(a)
    await page.screenshot({ path: join(shots, 'audit-log.png') })
    await context.close()
  })

  it('partner: an invite limits a developer to their own keys, at 375 px too', async () => {
    const other = await store.create({ principal: 'not-acme' })
    const operator = await browser.newContext()
    const op = await operator.newPage()
    await signIn(op, { role: 'operator' })
    await op.goto(`${portalOrigin}/partners/invite`)
    await op.getByLabel('Principal').fill('acme')
    await op.getByLabel('Most active keys').fill('1')
    await op.getByLabel(/Scopes they may grant/).fill('orders:read')
    await op.getByRole('button', { name: 'Create invite link' }).click()
    const invite = (await op.locator('#token').textContent()) ?? ''
    expect(invite).toContain('/login?token=')
    await op.screenshot({ path: join(shots, 'invite.png') })
    await operator.close()

    const phone = await browser.newContext({ viewport: { width: 375, height: 740 } })
    const page = await phone.newPage()
    await page.goto(invite)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${portalOrigin}/keys`)
    await page.getByRole('link', { name: 'Create a key' }).click()
    await page.getByLabel('Scopes').fill('orders:read')
    await page.getByRole('button', { name: 'Create key' }).click()
    expect((await page.locator('#token').textContent()) ?? '').toMatch(/^sigil_sk_/)
    // The layout fits 375 px: nothing scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    await page.goto(`${portalOrigin}/keys`)
    expect(await page.content()).not.toContain(other.keyId)
    await page.screenshot({ path: join(shots, 'partner-375px.png'), fullPage: true })
    // Trying another principal's key: not found, and nothing changed.
    expect((await page.goto(`${portalOrigin}/keys/${other.keyId}`))?.status()).toBe(404)
    // A second key is over the invite's limit.
    await page.goto(`${portalOrigin}/keys/new`)
    await page.getByLabel('Scopes').fill('orders:read')
    await page.getByRole('button', { name: 'Create key' }).click()
    expect(await page.getByRole('alert').textContent()).toContain('at most 1 working keys')
    expect((await store.info(other.keyId))?.status).toBe('active')
    // Issue 24: rotating with the default 24 h grace would make two working keys: refused.
    const [own] = await store.list({ principal: 'acme' })
    await page.goto(`${portalOrigin}/keys/${own?.keyId}`)
    const graced = page.waitForResponse((r) => r.url().endsWith('/rotate'))
    await page.getByRole('button', { name: 'Rotate key' }).click()
    expect((await graced).status()).toBe(409)
    expect(await page.content()).toContain('rotation grace')
    // An operator-issued key of its own principal with wider scopes: no token for them by rotating.
    const wide = await store.create({ principal: 'acme', scopes: ['orders:read', 'orders:write', 'admin'] })
    await page.goto(`${portalOrigin}/keys/${wide.keyId}`)
    await page.getByLabel(/Old key keeps working/).fill('0')
    const refused = page.waitForResponse((r) => r.url().endsWith('/rotate'))
    await page.getByRole('button', { name: 'Rotate key' }).click()
    expect((await refused).status()).toBe(403)
    expect(await page.content()).not.toContain('sigil_sk_')
    expect((await store.info(wide.keyId))?.replacedBy).toBeUndefined()
    expect((await store.list({ principal: 'acme' })).length).toBe(2)
    await phone.close()
  })
})
