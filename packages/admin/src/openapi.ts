import { type ZodType, z } from 'zod'
import * as s from './schemas.js'

const json = (schema: ZodType) => ({
  'application/json': { schema: z.toJSONSchema(schema, { target: 'openapi-3.0', unrepresentable: 'any' }) },
})
const problems = {
  '401': {
    description: 'Missing or invalid Sigil signature',
    content: { 'application/problem+json': { schema: z.toJSONSchema(s.problem) } },
  },
  '403': { description: 'The key lacks the admin scope', content: { 'application/problem+json': { schema: z.toJSONSchema(s.problem) } } },
  '400': {
    description: 'Invalid input (INVALID_REQUEST); the title names the field',
    content: { 'application/problem+json': { schema: z.toJSONSchema(s.problem) } },
  },
  '409': {
    description:
      'The key state refuses it: KEY_CONFLICT (stale ifVersion), KEY_LIMIT, KEY_REVOKED or KEY_EXPIRED (rotating a revoked or already rotated key)',
    content: { 'application/problem+json': { schema: z.toJSONSchema(s.problem) } },
  },
}
const params = (schema: z.ZodObject) =>
  Object.entries(schema.shape).map(([name, v]) => ({
    name,
    in: 'query',
    required: false,
    schema: z.toJSONSchema(v as ZodType, { target: 'openapi-3.0', unrepresentable: 'any' }),
  }))
const keyIdParam = { name: 'keyId', in: 'path', required: true, schema: { type: 'string' } }

/**
 * The OpenAPI 3.1 document of the admin API, generated from the same zod schemas that validate
 * requests. Served at `/api/v1/openapi.json`.
 */
export function adminOpenApi(serverUrl?: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sigil admin API',
      version: '1.0.0',
      description:
        'Issue, list, change, rotate and revoke API keys; read usage and the audit log. Every request is signed with Sigil (RFC 9421 + RFC 9530) by a key holding the `admin` scope.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: { sigil: { type: 'http', scheme: 'signature', description: 'RFC 9421 HTTP Message Signature (Sigil profile)' } },
    },
    security: [{ sigil: [] }],
    paths: {
      '/api/v1/keys': {
        post: {
          operationId: 'createKey',
          requestBody: { required: true, content: json(s.createKeyBody) },
          responses: { '201': { description: 'Created; the token is shown once', content: json(s.createdKey) }, ...problems },
        },
        get: {
          operationId: 'listKeys',
          parameters: params(s.listKeysQuery),
          responses: { '200': { description: 'A page of keys', content: json(s.keyPage) }, ...problems },
        },
      },
      '/api/v1/keys/{keyId}': {
        get: {
          operationId: 'getKey',
          parameters: [keyIdParam],
          responses: { '200': { description: 'The key', content: json(s.keyInfo) }, ...problems },
        },
        patch: {
          operationId: 'updateKey',
          parameters: [keyIdParam],
          requestBody: { required: true, content: json(s.updateKeyBody) },
          responses: { '200': { description: 'The changed key', content: json(s.keyInfo) }, ...problems },
        },
      },
      '/api/v1/keys/{keyId}/rotate': {
        post: {
          operationId: 'rotateKey',
          parameters: [keyIdParam],
          requestBody: { required: false, content: json(s.rotateKeyBody) },
          responses: {
            '201': { description: 'The new key (token shown once) and the old one with its grace', content: json(s.rotatedKey) },
            ...problems,
          },
        },
      },
      '/api/v1/keys/{keyId}/revoke': {
        post: {
          operationId: 'revokeKey',
          parameters: [keyIdParam],
          responses: { '200': { description: 'Revoked', content: json(s.keyInfo) }, ...problems },
        },
      },
      '/api/v1/keys/{keyId}/usage': {
        get: {
          operationId: 'keyUsage',
          parameters: [keyIdParam, ...params(s.usageQuery)],
          responses: { '200': { description: 'Accepted and rejected (by code) per day', content: json(s.usageReport) }, ...problems },
        },
      },
      '/api/v1/events': {
        get: {
          operationId: 'listEvents',
          parameters: params(s.eventsQuery),
          responses: { '200': { description: 'Audit log, newest first', content: json(s.eventPage) }, ...problems },
        },
      },
    },
  }
}
