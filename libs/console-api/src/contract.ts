/**
 * The console's JSON API (issue 16 item 6): typed once, imported by the backend-for-frontend
 * (apps/console/src) and by the page (apps/console/web), so a renamed field fails both builds.
 * The browser never sees protobuf or gRPC: these are the views the BFF translates to and from.
 *
 * Conventions: every answer is JSON; a refusal is `ApiError` with the HTTP status of
 * `HTTP_STATUS_OF` its gRPC code and the service's own message. Every state-changing request is
 * a POST carrying `CSRF_HEADER` equal to the `CSRF_COOKIE` cookie (double submit), and is
 * refused with 403 otherwise. Times are ISO-8601 strings in UTC.
 */

/** The session cookie: HttpOnly, SameSite=Strict, path /; the session token never reaches script. */
export const SESSION_COOKIE = 'gh_session';
/** The pending sign-in cookie (HttpOnly): the identity sign-in id between the steps. */
export const SIGN_IN_COOKIE = 'gh_sign_in';
/** The double-submit CSRF cookie, readable by the page (not HttpOnly), random per browser. */
export const CSRF_COOKIE = 'gh_csrf';
/** The header a state-changing request repeats the CSRF cookie in. */
export const CSRF_HEADER = 'x-gatehouse-csrf';

/** A refusal: `code` is the gRPC status name (or the BFF's own: `CSRF`, `NOT_SIGNED_IN`, `BAD_REQUEST`). */
export interface ApiError {
  error: { code: string; message: string; anomalyId?: string };
}

/** HTTP status per gRPC status name, so the page and tests can rely on one mapping. */
export const HTTP_STATUS_OF: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  BAD_REQUEST: 400,
  FAILED_PRECONDITION: 409,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  NOT_SIGNED_IN: 401,
  PERMISSION_DENIED: 403,
  CSRF: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNKNOWN: 500,
  DATA_LOSS: 500,
  CANCELLED: 499,
};

export type Role = 'security_officer' | 'manager' | 'team_lead' | 'developer' | 'support';
export const ROLES: readonly Role[] = ['security_officer', 'manager', 'team_lead', 'developer', 'support'];
export type OtpKind = 'totp' | 'hotp';

// ---- sign-in -------------------------------------------------------------------------------

/** Where a sign-in stands. `google` means: start at /auth/google/start. */
export type SignInStep = 'google' | 'sms' | 'otp_enrollment' | 'otp';
export interface SignInView {
  email: string;
  nextStep: SignInStep;
  phoneNumberMask: string;
  /** The enrolled device's kind once known ('' before enrolment). */
  otpKind: OtpKind | '';
  expiresAt: string;
}
/** POST /api/sign-in/sms/send: the SMS went out. */
export interface SmsSentView extends SignInView {
  codeExpiresAt: string;
  resendsRemaining: number;
}
export interface VerifyCodeRequest {
  code: string;
}
export interface EnrollRequest {
  kind: OtpKind;
}
/** The enrolment secret, shown once: the otpauth URI and its QR code as an SVG document. */
export interface EnrollView {
  credentialId: string;
  otpauthUri: string;
  qrSvg: string;
  confirmBy: string;
}
export interface ConfirmEnrollmentRequest {
  credentialId: string;
  code: string;
}

// ---- the signed-in employee ----------------------------------------------------------------

export type SessionScope = 'full' | 'register_ip_only';
export interface MeView {
  accountId: string;
  email: string;
  displayName: string;
  roles: Role[];
  scope: SessionScope;
  sessionId: string;
  /** The IP the session is pinned to (the browser's, as the console sees it). */
  pinnedIp: string;
  expiresAt: string;
  absoluteExpiresAt: string;
  /** The next daily cut-off of the home-worker allowlist, for the countdown. */
  dailyCutoffAt: string;
}
export interface SessionView {
  sessionId: string;
  status: 'active' | 'expired' | 'revoked';
  scope: SessionScope;
  pinnedIp: string;
  issuedAt: string;
  expiresAt: string;
  current: boolean;
}
export interface SessionsView {
  sessions: SessionView[];
}
export interface RevokeSessionRequest {
  sessionId: string;
}
export interface RevokedView {
  revokedSessionCount: number;
}
export interface DailyIpView {
  ip: string;
  expiresAt: string;
  alreadyRegistered: boolean;
  remainingToday: number;
}

// ---- support: impersonation ----------------------------------------------------------------

export type ImpersonationReason = 'customer_support_case' | 'bug_investigation' | 'incident_response';
export interface StartImpersonationRequest {
  targetUserId: string;
  customerDomain: string;
  reason: ImpersonationReason;
  justification: string;
  ticketRef: string;
  durationMinutes: number;
}
export interface GrantView {
  grantId: string;
  employee: string;
  targetUserId: string;
  customerDomain: string;
  reason: ImpersonationReason | '';
  justification: string;
  ticketRef: string;
  startedAt: string;
  expiresAt: string;
  state: 'active' | 'ended' | 'expired' | 'revoked';
}
/** The grant and its token; the token is shown once and never sent again. */
export interface StartedView {
  grant: GrantView;
  impersonationToken: string;
}
export interface GrantsView {
  grants: GrantView[];
}
export type AnomalyState = 'open' | 'justified' | 'accepted' | 'rejected';
export interface AnomalyView {
  anomalyId: string;
  employee: string;
  employeeAccountId: string;
  customerDomain: string;
  ruleSummary: string;
  targetUserIds: string[];
  refusedTargetUserId: string;
  openedAt: string;
  state: AnomalyState;
  justification: string;
  ticketRefs: string[];
  resolutionNote: string;
}
export interface AnomaliesView {
  anomalies: AnomalyView[];
}
export interface JustifyAnomalyRequest {
  justification: string;
  ticketRefs: string[];
}
export interface ResolveAnomalyRequest {
  resolution: 'accept' | 'reject';
  note: string;
}

// ---- officer queue -------------------------------------------------------------------------

export type AccountState = 'pending' | 'active' | 'suspended';
export interface AccountView {
  accountId: string;
  email: string;
  displayName: string;
  state: AccountState;
  roles: Role[];
  locked: boolean;
  lockedAt: string;
  phoneNumberMask: string;
  createdAt: string;
}
export interface AccountsView {
  accounts: AccountView[];
}
export interface ApproveAccountRequest {
  displayName: string;
  roles: Role[];
  phoneNumber: string;
  note: string;
}
export interface ApprovedView {
  account: AccountView;
  /** Set when a privileged role waits for a second officer (two-person rule). */
  pendingChangeId: string;
}
export interface RejectAccountRequest {
  reason: string;
}
export interface NoteRequest {
  note: string;
}
export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';
export interface AlertView {
  alertId: string;
  ruleId: string;
  ruleName: string;
  severity: AlertSeverity;
  state: 'open' | 'acknowledged';
  summary: string;
  count: number;
  raisedAt: string;
  acknowledgedBy: string;
  acknowledgementNote: string;
}
export interface AlertsView {
  alerts: AlertView[];
}
/** GET /api/alerts/stream sends Server-Sent Events named `alert` with this data. */
export interface AlertEvent {
  change: 'raised' | 'acknowledged';
  alert: AlertView;
}
export interface ImpersonationLockView {
  accountId: string;
  employee: string;
  locked: boolean;
  lockingAnomalyId: string;
  blockedDomains: string[];
}
export type EntryScope = 'live' | 'staging' | 'all';
export interface EntryView {
  entryId: string;
  cidr: string;
  label: string;
  scope: EntryScope;
  expiresAt: string;
  createdBy: string;
  reason: string;
  createdAt: string;
}
export interface EntriesView {
  entries: EntryView[];
}
export interface AddEntryRequest {
  cidr: string;
  label: string;
  scope: EntryScope;
  /** '' for no expiry. */
  expiresAt: string;
  reason: string;
}
export interface AddedEntryView {
  entry: EntryView;
  warnings: string[];
}
export interface RemoveEntryRequest {
  reason: string;
}

// ---- audit and the access log --------------------------------------------------------------

/** GET /api/audit query parameters; each may be empty. */
export interface AuditQuery {
  service?: string;
  action?: string;
  outcome?: string;
  actorId?: string;
  subjectId?: string;
  customerDomain?: string;
  sourceIp?: string;
  occurredAfter?: string;
  occurredBefore?: string;
  pageToken?: string;
  pageSize?: number;
}
export interface AuditEntryView {
  sequence: number;
  occurredAt: string;
  appendedAt: string;
  service: string;
  action: string;
  outcome: string;
  actor: string;
  subject: string;
  customerDomain: string;
  sourceIp: string;
  summary: string;
}
export interface AuditPageView {
  entries: AuditEntryView[];
  nextPageToken: string;
  treeSize: number;
}
export interface CheckpointView {
  origin: string;
  treeSize: number;
  rootHash: string;
  signedAt: string;
  keyId: string;
  /** The checkpoint as `gatehouse audit checkpoint --out` saves it: the file `audit verify --trusted-checkpoint` takes. */
  text: string;
  /** The checkpoint key as `gatehouse audit keys` prints it (`<key id> <base64>`), what `audit verify --public-key` takes and the officer pins. */
  publicKey: string;
}
export interface AccessLogEntryView {
  grantId: string;
  employee: string;
  employeeRole: Role | '';
  targetUserId: string;
  reason: ImpersonationReason | '';
  justification: string;
  ticketRef: string;
  startedAt: string;
  endedAt: string;
  state: GrantView['state'];
  touched: string[];
}
export interface AccessLogView {
  entries: AccessLogEntryView[];
  nextPageToken: string;
}

/**
 * Every route: method, path (`:id` is a path parameter), request body and answer. The BFF
 * registers exactly these, and the page's client is typed from them.
 */
export interface Routes {
  'GET /api/sign-in': { body: undefined; answer: SignInView };
  'POST /api/sign-in/sms/send': { body: Record<string, never>; answer: SmsSentView };
  'POST /api/sign-in/sms/verify': { body: VerifyCodeRequest; answer: SignInView };
  'POST /api/sign-in/otp/enroll': { body: EnrollRequest; answer: EnrollView };
  'POST /api/sign-in/otp/confirm': { body: ConfirmEnrollmentRequest; answer: SignInView };
  'POST /api/sign-in/otp/verify': { body: VerifyCodeRequest; answer: MeView };
  'POST /api/sign-out': { body: Record<string, never>; answer: RevokedView };
  'GET /api/me': { body: undefined; answer: MeView };
  'POST /api/me/refresh': { body: Record<string, never>; answer: MeView };
  'GET /api/sessions': { body: undefined; answer: SessionsView };
  'POST /api/sessions/revoke': { body: RevokeSessionRequest; answer: RevokedView };
  'POST /api/daily-ip': { body: Record<string, never>; answer: DailyIpView };
  'POST /api/impersonations': { body: StartImpersonationRequest; answer: StartedView };
  'GET /api/impersonations': { body: undefined; answer: GrantsView };
  'POST /api/impersonations/:id/end': { body: Record<string, never>; answer: GrantView };
  'GET /api/anomalies': { body: undefined; answer: AnomaliesView };
  'POST /api/anomalies/:id/justify': { body: JustifyAnomalyRequest; answer: AnomalyView };
  'POST /api/anomalies/:id/resolve': { body: ResolveAnomalyRequest; answer: AnomalyView };
  'GET /api/accounts': { body: undefined; answer: AccountsView };
  'POST /api/accounts/:id/approve': { body: ApproveAccountRequest; answer: ApprovedView };
  'POST /api/accounts/:id/reject': { body: RejectAccountRequest; answer: AccountView };
  'POST /api/accounts/:id/unlock': { body: NoteRequest; answer: AccountView };
  'GET /api/impersonation-locks': { body: undefined; answer: { locks: ImpersonationLockView[] } };
  'POST /api/impersonation-locks/:id/unlock': { body: NoteRequest; answer: ImpersonationLockView };
  'GET /api/alerts': { body: undefined; answer: AlertsView };
  'POST /api/alerts/:id/acknowledge': { body: NoteRequest; answer: AlertView };
  'GET /api/allowlist': { body: undefined; answer: EntriesView };
  'POST /api/allowlist': { body: AddEntryRequest; answer: AddedEntryView };
  'POST /api/allowlist/:id/remove': { body: RemoveEntryRequest; answer: EntryView };
  'GET /api/audit': { body: undefined; answer: AuditPageView };
  'GET /api/audit/checkpoint': { body: undefined; answer: CheckpointView };
  'GET /api/access-log': { body: undefined; answer: AccessLogView };
}
export type RouteKey = keyof Routes;

/** Non-JSON routes: the OIDC redirect pair, the dev stand-in for Google, SSE and the export download. */
export const PLAIN_ROUTES = {
  googleStart: '/auth/google/start',
  googleCallback: '/auth/google/callback',
  devAuthorize: '/dev/google/authorize',
  devToken: '/dev/google/token',
  alertStream: '/api/alerts/stream',
  auditExport: '/api/audit/export',
} as const;

/** Query parameters: GET /api/accounts?state=pending|active|suspended&locked=1, /api/anomalies?state=…, /api/alerts?state=open|acknowledged, /api/access-log?domain=…&pageToken=… */
export const QUERY_LIMITS = { maxPageSize: 200, maxFieldLength: 2048, maxBodyBytes: 64 * 1024 } as const;
