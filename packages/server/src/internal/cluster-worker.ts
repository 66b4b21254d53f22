/**
 * Whether this process is a `node:cluster` worker. Node deletes `NODE_UNIQUE_ID` from the
 * environment before user code runs, so the environment cannot tell; the cluster module can.
 * Loaded lazily through `process.getBuiltinModule` (Node >= 20.16, Bun, Deno) so the entry point
 * imports no `node:` module and still runs on Workers and in browsers, where the answer is false.
 */
export function inClusterWorker(): boolean {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  if (typeof p?.getBuiltinModule !== 'function') return false
  try {
    const cluster = p.getBuiltinModule('node:cluster') as { isWorker?: unknown; isPrimary?: unknown } | undefined
    return cluster?.isWorker === true || cluster?.isPrimary === false
  } catch {
    return false
  }
}
