import type { IncomingMessage, ServerResponse } from 'node:http'
import { parseInput } from './api.js'
import { editFromForm, type KeyView, keyPageBody, lastUsedCell } from './key-page.js'
import { createLinkToken, type LinkClaims, readLinkToken } from './links.js'
import { CSS, csrfField, esc, JS, layout, type PageUser, secretBox, tableRegion } from './pages.js'
import { updateKeyBody } from './schemas.js'
import { type Actor, AdminError, actorName, grantOf, instantOf, type KeyService, LAST_USED_DAYS } from './service.js'
import { csrfMatches, type PortalSessions, type Session } from './sessions.js'

const MAX_FORM_BYTES = 64 * 1024
const INVITE_TTL_MS = 7 * 86_400_000

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
}

function html(res: ServerResponse, status: number, page: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS, ...extra })
  res.end(page)
}

function redirect(res: ServerResponse, to: string, extra: Record<string, string> = {}): void {
  res.writeHead(303, { location: to, ...SECURITY_HEADERS, ...extra })
  res.end()
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
    throw new AdminError(415, 'INVALID_REQUEST', 'forms only')
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length
    if (n > MAX_FORM_BYTES) throw new AdminError(413, 'INVALID_REQUEST', 'form too large')
    chunks.push(c)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

const COOKIE = 'sigil_admin'
const scopesOf = (raw: string | null) =>
  (raw ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean)

/**
 * The dashboard: sign-in by one-time link, keys list, create (token shown once), detail with
 * usage, rotate, revoke, audit log, partner invites. Session cookie HttpOnly + SameSite=Strict
 * (+ Secure over TLS), and a CSRF token checked on every change.
 */
export function createDashboard(o: {
  service: KeyService
  sessions: PortalSessions
  adminSecret: Uint8Array
  secureCookies: boolean
  now?: () => number
}) {
  const { service, sessions } = o
  const now = o.now ?? Date.now
  const userOf = (s: Session): PageUser => ({
    role: s.claims.role,
    csrf: s.csrf,
    ...(s.claims.role === 'partner' ? { principal: s.claims.principal } : {}),
    ...(s.claims.role === 'operator' && s.claims.name ? { name: s.claims.name } : {}),
  })
  const actorOf = (s: Session): Actor => ({ kind: 'session', claims: s.claims })

  function signedOut(res: ServerResponse): void {
    html(
      res,
      401,
      layout(
        'Sign in',
        `<p>Sign in with a one-time link. The operator gets one from <code>sigil admin login</code>; a partner's developer from their invite.</p>`,
      ),
    )
  }

  async function keysPage(res: ServerResponse, s: Session, query: URLSearchParams): Promise<void> {
    const u = userOf(s)
    const q = query.get('q') ?? ''
    const status = query.get('status') ?? ''
    const page = await service.list(actorOf(s), {
      ...(q ? { q } : {}),
      ...(status === 'active' || status === 'revoked' || status === 'expired' ? { status } : {}),
      ...(query.get('after') ? { after: query.get('after') as string } : {}),
      limit: 50,
    })
    const items = page.items as KeyView[]
    const last = await service.lastUsed(
      actorOf(s),
      items.map((k) => k.keyId),
    )
    const rows = items
      .map(
        (k) =>
          `<tr><td><a class="mono key-id" href="/keys/${esc(k.keyId)}">${esc(k.keyId)}</a></td><td>${esc(k.principal)}</td><td class="status-${esc(k.status)}">${esc(k.replacedBy && k.status === 'active' ? 'active (rotated)' : k.status)}</td><td>${esc(k.scopes.join(' '))}</td><td class="nowrap">${esc(k.createdAt.slice(0, 10))}</td><td class="nowrap">${lastUsedCell(last.get(k.keyId), now(), LAST_USED_DAYS, service.hasUsage)}</td></tr>`,
      )
      .join('')
    const opts = ['', 'active', 'revoked', 'expired']
      .map((v) => `<option value="${v}"${v === status ? ' selected' : ''}>${v || 'any'}</option>`)
      .join('')
    const next = page.next ? `<p><a href="/keys?${new URLSearchParams({ q, status, after: page.next })}">Next page</a></p>` : ''
    html(
      res,
      200,
      layout(
        'Keys',
        `<p><a href="/keys/new">Create a key</a></p>
<form method="get" action="/keys" class="inline" role="search"><div><label for="q">Search</label><input id="q" name="q" type="text" value="${esc(q)}"></div>
<div><label for="status">Status</label><select id="status" name="status">${opts}</select></div><button type="submit">Filter</button></form>
${tableRegion('Keys', `<table><caption>${page.items.length === 1 ? '1 key' : `${page.items.length} keys`}${page.next ? ' on this page' : ''}</caption><thead><tr><th scope="col">Key id</th><th scope="col">Principal</th><th scope="col">Status</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col" class="nowrap">Last used</th></tr></thead><tbody>${rows || '<tr><td colspan="6">No keys</td></tr>'}</tbody></table>`)}${next}`,
        u,
      ),
    )
  }

  function newKeyPage(res: ServerResponse, s: Session, error?: string, status = 400): void {
    const u = userOf(s)
    const principal =
      s.claims.role === 'partner'
        ? `<p>Principal: <strong>${esc(s.claims.principal)}</strong></p>`
        : `<label for="principal">Principal <span class="hint">(the partner, user or service the key acts for)</span></label><input id="principal" name="principal" type="text" required maxlength="256">`
    const scopeHint = s.claims.role === 'partner' ? ` (allowed: ${esc(s.claims.allowedScopes.join(' ') || 'none')})` : ''
    html(
      res,
      error ? status : 200,
      layout(
        'Create a key',
        `${error ? `<p class="warn" role="alert">${esc(error)}</p>` : ''}<form method="post" action="/keys">${csrfField(u)}${principal}
<label for="scopes">Scopes <span class="hint">separated by spaces${scopeHint}</span></label><input id="scopes" name="scopes" type="text">
<label for="expiresAt">Expires <span class="hint">(optional, UTC)</span></label><input id="expiresAt" name="expiresAt" type="datetime-local">
<p><input id="test" name="test" type="checkbox" value="yes"> <label for="test" class="check">Test key <span class="hint">(token sigil_tk_…; a failed request is explained to the partner)</span></label></p>
<p><button type="submit">Create key</button></p></form>`,
        u,
      ),
    )
  }

  async function keyPage(
    res: ServerResponse,
    s: Session,
    keyId: string,
    o: { query?: URLSearchParams; error?: string; status?: number; sent?: URLSearchParams } = {},
  ): Promise<void> {
    const actor = actorOf(s)
    const k = (await service.get(actor, keyId)) as KeyView
    const notice = o.query ? noticeOf(o.query, k) : undefined
    const to = new Date(now()).toISOString().slice(0, 10)
    const from = new Date(now() - 29 * 86_400_000).toISOString().slice(0, 10)
    const [usage, history] = await Promise.all([service.usage(actor, keyId, { from, to }), service.history(actor, keyId)])
    const body = keyPageBody({
      k,
      user: userOf(s),
      grant: grantOf(actor),
      now: now(),
      usage,
      hasUsage: service.hasUsage,
      lastUsedDays: LAST_USED_DAYS,
      history: history as Array<{ at: string; actor: string; action: string; keyId?: string; detail?: Record<string, unknown> }>,
      propagation: service.propagation(),
      ...(notice ? { notice } : {}),
      ...(o.error ? { error: o.error } : {}),
      ...(o.sent ? { sent: o.sent } : {}),
    })
    html(res, o.status ?? 200, layout(`Key ${keyId}`, body, userOf(s)))
  }

  /** The notice after a change, from the redirect's query: what happened and when it reaches other instances. */
  function noticeOf(query: URLSearchParams, k: KeyView): string | undefined {
    const done = query.get('done')
    const later = service.propagation(query.get('told') === 'no') ?? 'Other instances were told at once.'
    // A link with ?done=revoked on a live key says nothing (it did not come from a revocation).
    if (done === 'revoked' && k.status === 'revoked') return `Key revoked. ${later}`
    if (done === 'updated') return `Changes saved. ${later}`
    if (done === 'unchanged') return 'Nothing to change: the form matched the key.'
    return undefined
  }

  async function eventsPage(res: ServerResponse, s: Session, query: URLSearchParams): Promise<void> {
    const before = Number(query.get('before') ?? '') || undefined
    const page = await service.events(actorOf(s), { limit: 50, ...(before ? { before } : {}) })
    const rows = (page.items as Array<Record<string, unknown>>)
      .map(
        (e) =>
          `<tr><td class="nowrap">${esc(String(e.at).slice(0, 19).replace('T', ' '))}</td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td><td class="mono">${e.keyId ? `<a href="/keys/${esc(e.keyId)}">${esc(e.keyId)}</a>` : ''}</td><td>${esc(e.principal)}</td></tr>`,
      )
      .join('')
    const next = page.next ? `<p><a href="/events?before=${page.next}">Older</a></p>` : ''
    html(
      res,
      200,
      layout(
        'Audit log',
        `${tableRegion('Audit log', `<table><caption>Who did what, newest first</caption><thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Key</th><th scope="col">Principal</th></tr></thead><tbody>${rows || '<tr><td colspan="5">Nothing yet</td></tr>'}</tbody></table>`)}${next}`,
        userOf(s),
      ),
    )
  }

  function invitePage(res: ServerResponse, s: Session, sent?: { link: string; claims: Extract<LinkClaims, { role: 'partner' }> }): void {
    const u = userOf(s)
    // After an invite: the link and the limits it carries, not a blank form under "the limits below".
    const body = sent
      ? `<div class="notice" role="status"><p>Send this one-time link to the partner's developer (valid 7 days, usable once). They will manage their own keys within these limits:</p>
<dl><dt>Principal</dt><dd>${esc(sent.claims.principal)}</dd><dt>Most working keys</dt><dd>${sent.claims.maxKeys}</dd><dt>Scopes they may grant</dt><dd>${esc(sent.claims.allowedScopes.join(' ') || '(none)')}</dd></dl></div>
<div class="secret"><code id="token">${esc(sent.link)}</code><button type="button" data-copy="token">Copy</button></div>
<p><a href="/partners/invite">Invite another partner</a> · <a href="/keys">Back to keys</a></p>`
      : `<form method="post" action="/partners/invite">${csrfField(u)}
<label for="principal">Principal</label><input id="principal" name="principal" type="text" required maxlength="256">
<label for="maxKeys">Most active keys <span class="hint">(a key still in a rotation grace counts)</span></label><input id="maxKeys" name="maxKeys" type="number" min="1" max="1000" value="3" required>
<label for="allowedScopes">Scopes they may grant <span class="hint">separated by spaces</span></label><input id="allowedScopes" name="allowedScopes" type="text">
<p><button type="submit">Create invite link</button></p></form>`
    html(res, sent ? 201 : 200, layout(sent ? 'Invite link created' : 'Invite a partner', body, u))
  }

  return async function dashboard(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    origin: string,
  ): Promise<void> {
    if (path === '/assets/app.css') {
      res.writeHead(200, { 'content-type': 'text/css', 'cache-control': 'max-age=3600', 'x-content-type-options': 'nosniff' })
      res.end(CSS)
      return
    }
    if (path === '/assets/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600', 'x-content-type-options': 'nosniff' })
      res.end(JS)
      return
    }
    if (path === '/login' && req.method === 'GET') {
      // A GET never spends the link (link previews and scanners open it): the button POSTs it.
      const token = query.get('token') ?? ''
      return html(
        res,
        200,
        layout(
          'Sign in',
          `<form method="post" action="/login"><input type="hidden" name="token" value="${esc(token)}"><p>This one-time link signs you in to the Sigil key portal.</p><button type="submit">Sign in</button></form>`,
        ),
      )
    }
    if (path === '/login' && req.method === 'POST') {
      const form = await readForm(req)
      const read = readLinkToken(o.adminSecret, form.get('token') ?? '', now())
      if (!read || !(await sessions.spendLink(read.jti, read.exp))) {
        return html(
          res,
          401,
          layout('Sign in', '<p class="warn" role="alert">This sign-in link is invalid, expired or already used. Ask for a new one.</p>'),
        )
      }
      const session = await sessions.create(read.claims)
      await service.audit.append({
        actor: actorName({ kind: 'session', claims: read.claims }),
        action: 'session.login',
        ...(read.claims.role === 'partner' ? { principal: read.claims.principal } : {}),
      })
      const flags = `HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor((session.expiresAt - now()) / 1000)}${o.secureCookies ? '; Secure' : ''}`
      return redirect(res, '/keys', { 'set-cookie': `${COOKIE}=${session.id}; ${flags}` })
    }
    const session = await sessions.get(cookie(req, COOKIE))
    if (!session) {
      if (path === '/' || req.method === 'GET') return signedOut(res)
      return html(res, 403, layout('Forbidden', '<p>Sign in first.</p>'))
    }
    let form: URLSearchParams | undefined
    if (req.method === 'POST') {
      form = await readForm(req)
      if (!csrfMatches(session, form.get('_csrf')))
        return html(
          res,
          403,
          layout('Forbidden', '<p class="warn">The form expired or did not come from this site. Go back and try again.</p>'),
        )
    }
    const actor = actorOf(session)
    const u = userOf(session)
    if (path === '/logout' && form) {
      await sessions.destroy(session.id)
      return redirect(res, '/', {
        'set-cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${o.secureCookies ? '; Secure' : ''}`,
      })
    }
    if (path === '/' && req.method === 'GET') return redirect(res, '/keys')
    if (path === '/keys' && req.method === 'GET') return keysPage(res, session, query)
    if (path === '/keys/new' && req.method === 'GET') return newKeyPage(res, session)
    if (path === '/events' && req.method === 'GET') return eventsPage(res, session, query)
    if (path === '/keys' && form) {
      // A partner's form has no principal field: its own. One sent anyway goes to the service,
      // which refuses another principal (403) rather than quietly issuing a key for its own.
      const sent = (form.get('principal') ?? '').trim()
      const principal = session.claims.role === 'partner' && !sent ? session.claims.principal : sent
      const expires = form.get('expiresAt')
      try {
        const created = await service.create(actor, {
          principal,
          scopes: scopesOf(form.get('scopes')),
          ...(expires ? { expiresAt: instantOf('expiresAt', `${expires}Z`).toISOString() } : {}),
          ...(form.get('test') === 'yes' ? { test: true } : {}),
        })
        return html(
          res,
          201,
          layout(
            'Key created',
            `${secretBox(created.token)}<p>Key id <a class="mono" href="/keys/${esc(created.keyId)}">${esc(created.keyId)}</a> for ${esc(principal)}.</p><p><a href="/keys">Back to keys</a></p>`,
            u,
          ),
        )
      } catch (e) {
        if (e instanceof AdminError) return newKeyPage(res, session, e.message, e.status)
        if (e instanceof Error && /principal|scope|expires/i.test(e.message))
          return newKeyPage(res, session, 'Check the principal, scopes and expiry.')
        throw e
      }
    }
    if (path === '/partners/invite') {
      if (session.claims.role !== 'operator') throw new AdminError(403, 'FORBIDDEN', 'operators only')
      if (req.method === 'GET') return invitePage(res, session)
      if (form) {
        const claims: Extract<LinkClaims, { role: 'partner' }> = {
          role: 'partner',
          principal: (form.get('principal') ?? '').trim(),
          maxKeys: Number(form.get('maxKeys') ?? '1'),
          allowedScopes: scopesOf(form.get('allowedScopes')),
        }
        let token: string
        try {
          token = createLinkToken(o.adminSecret, claims, { ttlMs: INVITE_TTL_MS, now })
        } catch {
          throw new AdminError(400, 'INVALID_REQUEST', 'check the principal, key count and scopes')
        }
        await service.audit.append({
          actor: actorName(actorOf(session)),
          action: 'partner.invite',
          principal: claims.principal,
          detail: { maxKeys: claims.maxKeys, allowedScopes: claims.allowedScopes },
        })
        return invitePage(res, session, { link: `${origin}/login?token=${encodeURIComponent(token)}`, claims })
      }
    }
    const m = /^\/keys\/([A-Za-z0-9]{1,64})(\/rotate|\/revoke|\/edit)?$/.exec(path)
    if (m) {
      const keyId = m[1] as string
      if (!m[2] && req.method === 'GET') {
        return keyPage(res, session, keyId, { query })
      }
      if (m[2] === '/edit' && form) {
        // The API's schema and the store's rule (the actor's grant), as for PATCH /api/v1/keys/:id.
        try {
          const k = (await service.get(actor, keyId)) as KeyView
          const edit = parseInput(updateKeyBody, editFromForm(form, k))
          if (Object.keys(edit).length === 0) return redirect(res, `/keys/${keyId}?done=unchanged`)
          const r = await service.update(actor, keyId, edit)
          return redirect(res, `/keys/${keyId}?done=updated${r.warnings.length ? '&told=no' : ''}`)
        } catch (e) {
          if (e instanceof AdminError && e.status !== 404)
            return keyPage(res, session, keyId, { error: e.message, status: e.status, sent: form })
          throw e
        }
      }
      if (m[2] === '/rotate' && form) {
        const hours = Number(form.get('graceHours') ?? '24')
        if (!Number.isFinite(hours) || hours < 0 || hours > 720) throw new AdminError(400, 'INVALID_REQUEST', 'grace must be 0-720 hours')
        const r = await service.rotate(actor, keyId, { graceMs: Math.round(hours * 3_600_000) })
        const later = service.propagation(r.warnings.length > 0)
        return html(
          res,
          201,
          layout(
            'Key rotated',
            `${secretBox(r.token)}<p>New key <a class="mono" href="/keys/${esc(r.keyId)}">${esc(r.keyId)}</a>. The old key <a class="mono" href="/keys/${esc(keyId)}">${esc(keyId)}</a> works until ${esc(r.previous.notAfter ?? 'now')}.</p>${later ? `<p class="notice" role="status">${esc(later)} The old key's end of grace reaches them as late as that.</p>` : ''}`,
            u,
          ),
        )
      }
      if (m[2] === '/revoke' && form) {
        if (form.get('confirm') !== 'yes') throw new AdminError(400, 'INVALID_REQUEST', 'confirm the revocation')
        const r = await service.revoke(actor, keyId)
        return redirect(res, `/keys/${keyId}?done=revoked${r.warnings.length ? '&told=no' : ''}`)
      }
    }
    throw new AdminError(404, 'NOT_FOUND', 'no such page')
  }
}

/** The dashboard's answer to a refusal: an HTML page with the status. */
export function sendErrorPage(res: ServerResponse, e: unknown): void {
  if (e instanceof AdminError) {
    html(res, e.status, layout(e.status === 404 ? 'Not found' : 'Not allowed', `<p class="warn">${esc(e.message)}</p>`))
    return
  }
  // The detail goes to the operator's log, never to the page (SPEC §3).
  console.error(`sigil admin: ${e instanceof Error ? `${e.name}: ${e.message}` : 'request failed'}`)
  html(res, 500, layout('Something went wrong', '<p>The request failed. It was logged; try again.</p>'))
}
