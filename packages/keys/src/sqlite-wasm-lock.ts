// The wasm driver's side of multi-process safety. node-sqlite3-wasm locks a database by creating
// the directory `<file>.lock` (mkdir is atomic) and cannot take the POSIX locks that native SQLite
// (node:sqlite, better-sqlite3, the sqlite3 shell) uses: the two do not see each other. So:
// - a wasm connection is exclusive (see sqlite-driver.ts) and records its pid in `<file>.lock/owner`;
// - once it holds the directory it looks for another process's POSIX lock on the file or its
//   `-shm` (Linux: /proc/locks) and refuses if there is one;
// - a native connection, once it holds its WAL locks, waits while a live process owns the
//   directory. Each side announces itself before it looks for the other, so of two that start
//   together at least one sees the other and backs off: never both.
// - a directory left by a killed process (its pid is gone) is removed before SQLite tries it.
import { mkdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { SqliteDriverError } from './sqlite-errors.js'

/** Seconds after which a lock directory without an owner file (its creator died at once) is stale. */
const ORPHAN_MS = 10_000

type LockState = { state: 'free' } | { state: 'stale' } | { state: 'held'; pid?: number }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function lockState(dir: string): LockState {
  let mtimeMs: number
  try {
    mtimeMs = statSync(dir).mtimeMs
  } catch {
    return { state: 'free' }
  }
  let owner: { pid?: unknown; host?: unknown } | undefined
  try {
    owner = JSON.parse(readFileSync(`${dir}/owner`, 'utf8'))
  } catch {
    owner = undefined
  }
  if (owner && typeof owner.pid === 'number') {
    // Another machine's pid (a shared folder) cannot be checked: held.
    if (owner.host !== hostname() || alive(owner.pid)) return { state: 'held', pid: owner.pid }
    return { state: 'stale' }
  }
  return Date.now() - mtimeMs > ORPHAN_MS ? { state: 'stale' } : { state: 'held' }
}

/** Remove a stale lock directory; under a second mkdir lock so two recoverers cannot race a new owner. */
function recoverStale(dir: string): void {
  if (lockState(dir).state !== 'stale') return
  const guard = `${dir}-recover`
  try {
    mkdirSync(guard)
  } catch {
    // Someone is recovering (or died doing so long ago): leave it to them, or clear an old guard.
    try {
      if (Date.now() - statSync(guard).mtimeMs > ORPHAN_MS) rmdirSync(guard)
    } catch {}
    return
  }
  try {
    if (lockState(dir).state !== 'stale') return
    try {
      unlinkSync(`${dir}/owner`)
    } catch {}
    try {
      rmdirSync(dir)
    } catch {}
  } finally {
    rmdirSync(guard)
  }
}

/** Pids holding a POSIX lock on `path`, `path-shm` or `path-wal`; `undefined` where we cannot tell. */
export function nativeLockHolders(path: string): number[] | undefined {
  let table: string
  try {
    table = readFileSync('/proc/locks', 'utf8')
  } catch {
    return undefined
  }
  const inodes = new Set<string>()
  for (const f of [path, `${path}-shm`, `${path}-wal`]) {
    try {
      inodes.add(String(statSync(f).ino))
    } catch {}
  }
  const pids = new Set<number>()
  for (const line of table.split('\n')) {
    // "1: POSIX  ADVISORY  READ 17322 fe:00:2154674 128 128" (blocked waiters have a "->" column)
    const f = line.trim().split(/\s+/)
    const at = f.findIndex((x) => /^[0-9a-f]+:[0-9a-f]+:\d+$/.test(x))
    if (at < 1) continue
    const ino = (f[at] as string).split(':')[2] as string
    const pid = Number(f[at - 1])
    // Our own pid too: wasm takes no POSIX locks, so ours would be a native connection in this process.
    if (inodes.has(ino)) pids.add(pid)
  }
  return [...pids]
}

/**
 * Refuse (SQLITE_BUSY) while a native process has `path` open. The wasm connection calls it before
 * its first read as well as after: a connection that has read a WAL database checkpoints it and
 * deletes the `-wal` file when it closes, and a wasm one cannot see the native holder's locks, so
 * a refused wasm process that had read would take the native holder's WAL with it.
 */
export function refuseIfNativeHolds(path: string): void {
  const others = nativeLockHolders(path)
  const shm = others === undefined && existsQuiet(`${path}-shm`)
  if (others?.length || shm) {
    const who = others?.length ? `process ${others.join(', ')}` : `another process (${path}-shm exists; remove it only if none does)`
    throw new SqliteDriverError(
      'SQLITE_BUSY',
      `${path} is open in ${who} through a native SQLite driver; the wasm driver cannot share it (use Node ≥ 22.13 or better-sqlite3 for several processes, or stop that process)`,
    )
  }
}

/** The wasm connection's claim on `<path>.lock`, taken by SQLite itself at its first read. */
export interface WasmLock {
  /** After the first statement: record our pid, then refuse if a native process has the file. */
  confirm(): void
  /** Before closing: remove the owner file, so SQLite can remove the (then empty) directory. */
  releaseOwner(): void
}

/** Clear a stale lock before the wasm connection's first read; confirm once it holds the directory. */
export function claimWasmLock(path: string): WasmLock {
  const dir = `${path}.lock`
  recoverStale(dir)
  let owned = false
  return {
    confirm() {
      writeFileSync(`${dir}/owner`, JSON.stringify({ pid: process.pid, host: hostname() }))
      owned = true
      refuseIfNativeHolds(path)
    },
    releaseOwner() {
      if (!owned) return
      owned = false
      try {
        unlinkSync(`${dir}/owner`)
      } catch {}
    },
  }
}

function existsQuiet(f: string): boolean {
  try {
    statSync(f)
    return true
  } catch {
    return false
  }
}

/** The pid recorded by the live wasm process holding `path`, if any. */
export function wasmLockHolder(path: string): number | undefined {
  const s = lockState(`${path}.lock`)
  return s.state === 'held' ? s.pid : undefined
}

/** A native connection waits up to `timeoutMs` while a live wasm process holds `path`. */
export function waitWhileWasmHolds(path: string, timeoutMs: number): void {
  const dir = `${path}.lock`
  const deadline = Date.now() + timeoutMs
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    const s = lockState(dir)
    if (s.state !== 'held') return
    if (Date.now() >= deadline) {
      throw new SqliteDriverError(
        'SQLITE_BUSY',
        `${path} is held by ${s.pid ? `process ${s.pid}` : 'another process'} through the wasm SQLite driver, which needs it alone`,
      )
    }
    Atomics.wait(pause, 0, 0, 25)
  }
}
