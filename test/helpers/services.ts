// The services `pnpm test` needs, in one place (CONTRIBUTING.md, "Services"): PostgreSQL with a
// database `test` and Redis, both on 127.0.0.1. Point the tests elsewhere with these variables;
// no test names an address of its own.

/** PostgreSQL for tests: `SIGIL_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`. */
export const TEST_DATABASE_URL = process.env.SIGIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** The shared Redis for tests: 127.0.0.1 on `SIGIL_REDIS_PORT`, default 6379. Never flushed or stopped. */
export const TEST_REDIS_PORT = Number(process.env.SIGIL_REDIS_PORT ?? 6379)

/** {@link TEST_REDIS_PORT} as a URL, for code that takes one (`SIGIL_REDIS_URL`, `new Redis(url)`). */
export const TEST_REDIS_URL = `redis://127.0.0.1:${TEST_REDIS_PORT}`
