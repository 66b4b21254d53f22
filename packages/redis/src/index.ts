export {
  connectKeyCache,
  type InvalidatableCache,
  type KeyCacheFanout,
  type KeyCacheFanoutOptions,
} from './key-change-fanout.js'
export { DEFAULT_PREFIX, type KeyLayout, keyLayout, utcDay } from './key-layout.js'
export { keepRedisAlive, type RedisLiveness, type RedisLivenessOptions } from './liveness.js'
export { createRedisNonceStore, type RedisNonceStoreOptions } from './nonce-store.js'
export { type KeyChangeMessage, publishKeyChange } from './publish-key-change.js'
export { createRedisRateLimiter, type RedisRateLimiterOptions } from './rate-limiter.js'
export { isRedisClient, RECOMMENDED_REDIS_OPTIONS, type RedisClient } from './redis-client.js'
export { createRedisUsageRecorder, type RedisUsageRecorder, type RedisUsageRecorderOptions } from './usage-recorder.js'
export { getUnknownUsage, getUsage, MAX_USAGE_DAYS, type UsageDay, type UsageRange, type UsageReport } from './usage-report.js'
