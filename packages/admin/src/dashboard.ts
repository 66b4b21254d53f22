import type { IncomingMessage, ServerResponse } from 'node:http'
import { createLinkToken, type LinkClaims, readLinkToken } from './links.js'
import { CSS, csrfField, esc, JS, layout, type PageUser, secretBox, usageChart } from './pages.js'
import { type Actor, AdminError, actorName, instantOf, type KeyService } from './service.js'
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
    const rows = (page.items as Array<Record<string, unknown>>)
      .map(
        (k) =>
          `<tr><td><a class="mono" href="/keys/${esc(k.keyId)}">${esc(k.keyId)}</a></td><td>${esc(k.principal)}</td><td class="status-${esc(k.status)}">${esc(k.status)}</td><td>${esc((k.scopes as string[]).join(' '))}</td><td>${esc(String(k.createdAt).slice(0, 10))}</td></tr>`,
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
<div class="table"><table><caption class="hint">${page.items.length} key(s)</caption><thead><tr><th scope="col">Key id</th><th scope="col">Principal</th><th scope="col">Status</th><th scope="col">Scopes</th><th scope="col">Created</th></tr></thead><tbody>${rows || '<tr><td colspan="5">No keys</td></tr>'}</tbody></table></div>${next}`,
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

  async function keyPage(res: ServerResponse, s: Session, keyId: string): Promise<void> {
    const u = userOf(s)
    const k = (await service.get(actorOf(s), keyId)) as Record<string, unknown>
    const to = new Date(now()).toISOString().slice(0, 10)
    const from = new Date(now() - 29 * 86_400_000).toISOString().slice(0, 10)
    const usage = await service.usage(actorOf(s), keyId, { from, to })
    const reasons = Object.entries(usage.totals.rejected)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `<tr><td><code>${esc(code)}</code></td><td>${n}</td></tr>`)
      .join('')
    const active = k.status === 'active'
    const actions = active
      ? `<h2>Rotate</h2><form method="post" action="/keys/${esc(keyId)}/rotate" class="inline">${csrfField(u)}
<div><label for="grace">Old key keeps working for <span class="hint">(hours)</span></label><input id="grace" name="graceHours" type="number" min="0" max="720" value="24"></div><button type="submit">Rotate key</button></form>
<h2>Revoke</h2><form method="post" action="/keys/${esc(keyId)}/revoke" data-confirm="Revoke ${esc(keyId)}? Requests signed with it fail at once.">${csrfField(u)}
<p><input id="confirm" name="confirm" type="checkbox" value="yes" required> <label for="confirm" class="check">I understand that requests signed with this key will fail at once</label></p><button class="danger" type="submit">Revoke key</button></form>`
      : ''
    const dl = [
      ['Principal', k.principal],
      ['Status', k.test ? `${k.status} (test key)` : k.status],
      ['Scopes', (k.scopes as string[]).join(' ') || '(none)'],
      ['Created', k.createdAt],
      ...(k.expiresAt ? [['Expires', k.expiresAt]] : []),
      ...(k.notAfter ? [['Works until', k.notAfter]] : []),
      ...(k.revokedAt ? [['Revoked', k.revokedAt]] : []),
      ...(k.replacedBy ? [['Replaced by', k.replacedBy]] : []),
    ]
      .map(([t, d]) => `<dt>${esc(t)}</dt><dd>${esc(d)}</dd>`)
      .join('')
    html(
      res,
      200,
      layout(
        `Key ${keyId}`,
        `<dl>${dl}</dl><h2>Usage, last 30 days</h2>${usageChart(usage.days, from, to)}
<h2>Rejections by reason</h2><div class="table"><table><thead><tr><th scope="col">Code</th><th scope="col">Requests</th></tr></thead><tbody>${reasons || '<tr><td colspan="2">None</td></tr>'}</tbody></table></div>${actions}`,
        u,
      ),
    )
  }

  async function eventsPage(res: ServerResponse, s: Session, query: URLSearchParams): Promise<void> {
    const before = Number(query.get('before') ?? '') || undefined
    const page = await service.events(actorOf(s), { limit: 50, ...(before ? { before } : {}) })
    const rows = (page.items as Array<Record<string, unknown>>)
      .map(
        (e) =>
          `<tr><td>${esc(e.at)}</td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td><td class="mono">${e.keyId ? `<a href="/keys/${esc(e.keyId)}">${esc(e.keyId)}</a>` : ''}</td><td>${esc(e.principal)}</td></tr>`,
      )
      .join('')
    const next = page.next ? `<p><a href="/events?before=${page.next}">Older</a></p>` : ''
    html(
      res,
      200,
      layout(
        'Audit log',
        `<div class="table"><table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Key</th><th scope="col">Principal</th></tr></thead><tbody>${rows || '<tr><td colspan="5">Nothing yet</td></tr>'}</tbody></table></div>${next}`,
        userOf(s),
      ),
    )
  }

  function invitePage(res: ServerResponse, s: Session, link?: string): void {
    const u = userOf(s)
    html(
      res,
      200,
      layout(
        'Invite a partner',
        `${link ? `<p>Send this one-time link to the partner's developer (valid 7 days, usable once). They will manage their own keys within the limits below.</p><div class="secret"><code id="token">${esc(link)}</code><button type="button" data-copy="token">Copy</button></div>` : ''}
<form method="post" action="/partners/invite">${csrfField(u)}
<label for="principal">Principal</label><input id="principal" name="principal" type="text" required maxlength="256">
<label for="maxKeys">Most active keys <span class="hint">(a key still in a rotation grace counts)</span></label><input id="maxKeys" name="maxKeys" type="number" min="1" max="1000" value="3" required>
<label for="allowedScopes">Scopes they may grant <span class="hint">separated by spaces</span></label><input id="allowedScopes" name="allowedScopes" type="text">
<p><button type="submit">Create invite link</button></p></form>`,
        u,
      ),
    )
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
        const claims: LinkClaims = {
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
        return invitePage(res, session, `${origin}/login?token=${encodeURIComponent(token)}`)
      }
    }
    const m = /^\/keys\/([A-Za-z0-9]{1,64})(\/rotate|\/revoke)?$/.exec(path)
    if (m) {
      const keyId = m[1] as string
      if (!m[2] && req.method === 'GET') return keyPage(res, session, keyId)
      if (m[2] === '/rotate' && form) {
        const hours = Number(form.get('graceHours') ?? '24')
        if (!Number.isFinite(hours) || hours < 0 || hours > 720) throw new AdminError(400, 'INVALID_REQUEST', 'grace must be 0-720 hours')
        const r = await service.rotate(actor, keyId, { graceMs: Math.round(hours * 3_600_000) })
        return html(
          res,
          201,
          layout(
            'Key rotated',
            `${secretBox(r.token)}<p>New key <a class="mono" href="/keys/${esc(r.keyId)}">${esc(r.keyId)}</a>. The old key ${esc(keyId)} works until ${esc(r.previous.notAfter ?? 'now')}.</p>`,
            u,
          ),
        )
      }
      if (m[2] === '/revoke' && form) {
        if (form.get('confirm') !== 'yes') throw new AdminError(400, 'INVALID_REQUEST', 'confirm the revocation')
        await service.revoke(actor, keyId)
        return redirect(res, `/keys/${keyId}`)
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
