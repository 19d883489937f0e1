import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP_STATUS_OF, PLAIN_ROUTES, type RouteKey } from './contract.js';

/** The route keys, spelled out: the type system checks this list against Routes both ways. */
const KEYS = {
  'GET /api/sign-in': 1, 'POST /api/sign-in/sms/send': 1, 'POST /api/sign-in/sms/verify': 1, 'POST /api/sign-in/otp/enroll': 1,
  'POST /api/sign-in/otp/confirm': 1, 'POST /api/sign-in/otp/verify': 1, 'POST /api/sign-out': 1, 'GET /api/me': 1, 'POST /api/me/refresh': 1,
  'GET /api/sessions': 1, 'POST /api/sessions/revoke': 1, 'POST /api/daily-ip': 1, 'POST /api/impersonations': 1, 'GET /api/impersonations': 1,
  'POST /api/impersonations/:id/end': 1, 'GET /api/anomalies': 1, 'POST /api/anomalies/:id/justify': 1, 'POST /api/anomalies/:id/resolve': 1,
  'GET /api/accounts': 1, 'POST /api/accounts/:id/approve': 1, 'POST /api/accounts/:id/reject': 1, 'POST /api/accounts/:id/unlock': 1,
  'GET /api/impersonation-locks': 1, 'POST /api/impersonation-locks/:id/unlock': 1, 'GET /api/alerts': 1, 'POST /api/alerts/:id/acknowledge': 1,
  'GET /api/allowlist': 1, 'POST /api/allowlist': 1, 'POST /api/allowlist/:id/remove': 1, 'GET /api/audit': 1, 'GET /api/audit/checkpoint': 1,
  'GET /api/access-log': 1,
} satisfies Record<RouteKey, 1>;

test('every route is GET or POST under /api/, and no JSON route shadows a plain one', () => {
  const plain = new Set<string>(Object.values(PLAIN_ROUTES));
  for (const key of Object.keys(KEYS)) {
    assert.match(key, /^(GET|POST) \/api\/[a-z/:-]+$/, key);
    assert.ok(!plain.has(key.split(' ')[1] ?? ''), `${key} collides with a plain route`);
  }
});

test('every refusal code the console sends has an HTTP status: CSRF and roles 403, no session 401, bad input 400', () => {
  assert.equal(HTTP_STATUS_OF['CSRF'], 403);
  assert.equal(HTTP_STATUS_OF['PERMISSION_DENIED'], 403);
  assert.equal(HTTP_STATUS_OF['NOT_SIGNED_IN'], 401);
  assert.equal(HTTP_STATUS_OF['UNAUTHENTICATED'], 401);
  assert.equal(HTTP_STATUS_OF['BAD_REQUEST'], 400);
  assert.equal(HTTP_STATUS_OF['INVALID_ARGUMENT'], 400);
  for (const code of ['OK']) assert.equal(HTTP_STATUS_OF[code], undefined);
  for (const [code, status] of Object.entries(HTTP_STATUS_OF)) assert.ok(status >= 400 && status < 600, code);
});
