export { DEFAULT_PREFIX, type KeyLayout, keyLayout, utcDay } from './key-layout.js'
export { createRedisNonceStore, type RedisNonceStoreOptions } from './nonce-store.js'
export { createRedisRateLimiter, type RedisRateLimiterOptions } from './rate-limiter.js'
export { isRedisClient, RECOMMENDED_REDIS_OPTIONS, type RedisClient } from './redis-client.js'
