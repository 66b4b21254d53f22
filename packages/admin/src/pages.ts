// Server-rendered dashboard pages: no build step, no framework, no inline script (the CSP
// forbids it). Every interpolated value goes through esc().

/** HTML-escape text and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`)
}

export const CSS = `
:root{color-scheme:light;--fg:#1a1a2e;--muted:#555;--line:#d0d4dc;--accent:#2446a8;--bad:#a11d2d;--ok:#1d7a3a;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
*{box-sizing:border-box}body{margin:0;color:var(--fg);line-height:1.45}
a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus,summary:focus{outline:3px solid #f5a623;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
header strong{margin-right:auto}nav{display:flex;flex-wrap:wrap;gap:.75rem}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin-top:1.5rem}
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;min-width:32rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}.hint{color:var(--muted);font-size:.9rem;font-weight:400}
input,select{font:inherit;padding:.35rem .5rem;border:1px solid #8a8f99;border-radius:4px;max-width:100%}
input[type=text],input[type=datetime-local],input[type=number]{width:22rem}
button{font:inherit;padding:.4rem .9rem;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.danger{background:var(--bad);border-color:var(--bad)}button.plain{background:#fff;color:var(--accent)}
.status-active{color:var(--ok)}.status-revoked,.status-expired{color:var(--bad)}
.secret{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;padding:.75rem;border:2px solid var(--bad);border-radius:6px;background:#fff6f6}
.secret code{flex:1 1 16rem}.warn{color:var(--bad);font-weight:600}
.chart{width:100%;height:auto;max-width:40rem;border:1px solid var(--line)}
label.check{display:inline;font-weight:400}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
@media (max-width:30rem){input[type=text],input[type=datetime-local],input[type=number]{width:100%}dl{grid-template-columns:1fr}}
`

export const JS = `
document.addEventListener('click', async (e) => {
  const b = e.target.closest('[data-copy]'); if (!b) return
  const text = document.getElementById(b.getAttribute('data-copy')).textContent
  try { await navigator.clipboard.writeText(text); b.textContent = 'Copied' } catch { b.textContent = 'Select and copy' }
})
document.addEventListener('submit', (e) => {
  const msg = e.target.getAttribute('data-confirm'); if (msg && !confirm(msg)) e.preventDefault()
})
`

export interface PageUser {
  role: 'operator' | 'partner'
  principal?: string
  csrf: string
}

/** The page frame: skip link, header with navigation and sign-out, main landmark. */
export function layout(title: string, body: string, user?: PageUser): string {
  const nav = user
    ? `<nav aria-label="Main"><a href="/keys">Keys</a>${user.role === 'operator' ? '<a href="/partners/invite">Invite a partner</a>' : ''}<a href="/events">Audit log</a></nav>
<form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${esc(user.csrf)}"><button class="plain" type="submit">Sign out</button></form>`
    : ''
  const who = user ? `<span class="hint">${user.role === 'operator' ? 'Operator' : `Partner ${esc(user.principal)}`}</span>` : ''
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Sigil</title><link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a><header><strong>Sigil keys</strong>${who}${nav}</header>
<main id="main"><h1>${esc(title)}</h1>${body}</main></body></html>`
}

export const csrfField = (u: PageUser) => `<input type="hidden" name="_csrf" value="${esc(u.csrf)}">`

/** A token shown once, with a copy button and the warning that it will not be shown again. */
export function secretBox(token: string): string {
  return `<p class="warn" role="alert">Copy this token now: it is shown once and cannot be recovered. Store it like a password.</p>
<div class="secret"><code id="token">${esc(token)}</code><button type="button" data-copy="token">Copy</button></div>`
}

/** A bar chart of accepted requests per day, as inline SVG (no script), with a text alternative. */
export function usageChart(
  days: Array<{ date: string; accepted: number; rejected: Record<string, number> }>,
  from: string,
  to: string,
): string {
  const byDate = new Map(days.map((d) => [d.date, d]))
  const all: Array<{ date: string; accepted: number; rejected: number }> = []
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    const date = new Date(t).toISOString().slice(0, 10)
    const d = byDate.get(date)
    all.push({ date, accepted: d?.accepted ?? 0, rejected: d ? Object.values(d.rejected).reduce((a, b) => a + b, 0) : 0 })
  }
  const max = Math.max(1, ...all.map((d) => d.accepted + d.rejected))
  const w = 600
  const h = 160
  const bw = w / Math.max(1, all.length)
  const bars = all
    .map((d, i) => {
      const ah = (d.accepted / max) * (h - 20)
      const rh = (d.rejected / max) * (h - 20)
      return `<rect x="${(i * bw + 1).toFixed(1)}" y="${(h - ah).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${ah.toFixed(1)}" fill="#2446a8"><title>${d.date}: ${d.accepted} accepted</title></rect>
<rect x="${(i * bw + 1).toFixed(1)}" y="${(h - ah - rh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${rh.toFixed(1)}" fill="#a11d2d"><title>${d.date}: ${d.rejected} rejected</title></rect>`
    })
    .join('')
  const total = all.reduce((a, d) => a + d.accepted, 0)
  const rejected = all.reduce((a, d) => a + d.rejected, 0)
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="Requests per day from ${esc(from)} to ${esc(to)}: ${total} accepted, ${rejected} rejected">${bars}</svg>
<p class="hint">Blue: accepted, red: rejected. ${total} accepted, ${rejected} rejected from ${esc(from)} to ${esc(to)}.</p>`
}
