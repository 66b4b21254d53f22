// The developer portal (@sigil/admin) in headless Chromium, end to end: sign in by one-time link,
// create a key and read its token once, see it in the list, see usage after signed requests to
// an example API (usage through the real Redis), rotate, revoke (then a request with it fails),
// and a partner invite. Screenshots of the main pages go to a temporary folder: `pnpm screenshots`
// runs this test with SIGIL_SCREENSHOTS_DIR=docs/screenshots to regenerate the README's, so no
// `pnpm test` rewrites a tracked file. Keyboard use, labels and a 375 px layout are checked on the way.
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PortalFixture, startPortal } from './portal-fixture.js'

describe('developer portal in a browser', () => {
  let f: PortalFixture
  let portalOrigin: string
  let shots: string
  let store: PortalFixture['store']
  let browser: PortalFixture['browser']
  beforeAll(async () => {
    f = await startPortal()
    ;({ portalOrigin, shots, store, browser } = f)
  }, 120_000)
  afterAll(async () => {
    await f?.close()
  })
  const signIn = (page: Page, claims: Parameters<PortalFixture['signIn']>[1]) => f.signIn(page, claims)
  const callApi = (token: string, body?: string, swap?: string) => f.callApi(token, body, swap)
  const usage = { flush: () => f.usage.flush() }

  it('operator: sign in, create, see, use, rotate and revoke a key', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    page.on('dialog', (d) => void d.accept())
    await signIn(page, { role: 'operator', name: 'alice' })

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
    expect(await page.getByRole('region', { name: 'Rejections by reason' }).textContent()).toContain('DIGEST_MISMATCH')

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
    await page.waitForURL(/\/keys\/[A-Za-z0-9]+\?done=revoked$/)
    expect(await page.locator('dl').textContent()).toContain('revoked')
    expect(await callApi(next)).toEqual({ status: 401, code: 'KEY_REVOKED' })

    await page.goto(`${portalOrigin}/keys`)
    await page.screenshot({ path: join(shots, 'keys.png') })
    await page.goto(`${portalOrigin}/events`)
    const log = (await page.locator('tbody').textContent()) ?? ''
    for (const a of ['key.revoke', 'key.rotate', 'key.create', 'session.login']) expect(log).toContain(a)
    expect(log).toContain('operator:alice')
    await context.close()
  })

  it('partner: an invite limits a developer to their own keys, at 375 px too', async () => {
    const other = await store.create({ principal: 'not-acme' })
    const operator = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const op = await operator.newPage()
    await signIn(op, { role: 'operator', name: 'alice' })
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
