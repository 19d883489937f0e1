import {
  MongoSigningKeyRepository,
  SqliteSigningKeyRepository,
  signingKeyMongoIndexes,
  type SigningKeyRepository,
} from '@gatehouse/signing-keys';
import type { MongoIndexSpec, MongoMigration, OpenedStore, SqliteMigration } from '@gatehouse/storage';
import type { AccountRepository } from '../domain/accounts/account.js';
import type { OtpCredentialRepository, ThrottleCasStore } from '../domain/otp/index.js';
import type { SessionRepository } from '../domain/sessions/session-record.js';
import type { BootstrapTokenRepository } from '../domain/sessions/bootstrap-token.js';
import type { SignInRepository } from '../domain/sign-in/sign-in.js';
import { MongoAccountRepository } from './mongo-account-repository.js';
import { MongoOtpCredentialRepository, MongoThrottleRepository } from './mongo-otp-repository.js';
import { MongoSessionRepository } from './mongo-session-repository.js';
import { MongoSignInRepository } from './mongo-sign-in-repository.js';
import { MongoBootstrapTokenRepository } from './mongo-bootstrap-token-repository.js';
import { SqliteAccountRepository } from './sqlite-account-repository.js';
import { SqliteOtpCredentialRepository, SqliteThrottleRepository } from './sqlite-otp-repository.js';
import { SqliteSessionRepository } from './sqlite-session-repository.js';
import { SqliteSignInRepository } from './sqlite-sign-in-repository.js';
import { SqliteBootstrapTokenRepository } from './sqlite-bootstrap-token-repository.js';
import { accountMongoIndexes } from './mongo-account-repository.js';
import { accountSqliteMigrations } from './sqlite-account-repository.js';
import { otpMongoIndexes } from './mongo-otp-repository.js';
import { otpSqliteMigrations } from './sqlite-otp-repository.js';
import { signInMongoIndexes } from './mongo-sign-in-repository.js';
import { signInSqliteMigrations } from './sqlite-sign-in-repository.js';
import { sessionMongoIndexes } from './mongo-session-repository.js';
import { sessionSqliteMigrations } from './sqlite-session-repository.js';
import { signingKeyBootstrapSqliteMigrations } from './sqlite-bootstrap-token-repository.js';
import { SqliteRevocationLog, revocationSqliteMigrations } from './sqlite-revocation-log.js';
import { MongoRevocationLog, revocationMongoIndexes } from './mongo-revocation-log.js';
import type { RevocationLog } from '../domain/sessions/revocation-log.js';
import type { RoleChangeRepository } from '../domain/accounts/role-change.js';
import { SqliteRoleChangeRepository, roleChangeSqliteMigrations } from './sqlite-role-change-repository.js';
import { MongoRoleChangeRepository, roleChangeMongoIndexes } from './mongo-role-change-repository.js';

/**
 * The identity service's own schema, in the order it was introduced (the audit outbox's tables
 * are added by the service host): accounts, OTP credentials and throttle state, sign-ins (with
 * their SMS challenge inside), session records, then signing keys and the bootstrap token.
 * Append new migrations; never reorder or rename applied ones.
 */
export const identitySchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = {
  sqliteMigrations: [...accountSqliteMigrations, ...otpSqliteMigrations, ...signInSqliteMigrations, ...sessionSqliteMigrations, ...signingKeyBootstrapSqliteMigrations, ...revocationSqliteMigrations, ...roleChangeSqliteMigrations],
  mongoMigrations: [],
  mongoIndexes: [...accountMongoIndexes, ...otpMongoIndexes, ...signInMongoIndexes, ...sessionMongoIndexes, ...signingKeyMongoIndexes, ...revocationMongoIndexes, ...roleChangeMongoIndexes],
};

/** Identity's repositories on the opened store. */
export interface IdentityStores {
  accounts: AccountRepository;
  credentials: OtpCredentialRepository;
  throttle: ThrottleCasStore;
  signIns: SignInRepository;
  sessions: SessionRepository;
  signingKeys: SigningKeyRepository;
  bootstrap: BootstrapTokenRepository;
  revocations: RevocationLog;
  roleChanges: RoleChangeRepository;
}

/** The SQLite or MongoDB adapters of every identity port, for the backend the host opened. */
export function identityStores(opened: OpenedStore): IdentityStores {
  if (opened.backend === 'sqlite') {
    const s = opened.store;
    return {
      accounts: new SqliteAccountRepository(s),
      credentials: new SqliteOtpCredentialRepository(s),
      throttle: new SqliteThrottleRepository(s),
      signIns: new SqliteSignInRepository(s),
      sessions: new SqliteSessionRepository(s),
      signingKeys: new SqliteSigningKeyRepository(s),
      bootstrap: new SqliteBootstrapTokenRepository(s),
      revocations: new SqliteRevocationLog(s),
      roleChanges: new SqliteRoleChangeRepository(s),
    };
  }
  const m = opened.store;
  return {
    accounts: new MongoAccountRepository(m),
    credentials: new MongoOtpCredentialRepository(m),
    throttle: new MongoThrottleRepository(m),
    signIns: new MongoSignInRepository(m),
    sessions: new MongoSessionRepository(m),
    signingKeys: new MongoSigningKeyRepository(m),
    bootstrap: new MongoBootstrapTokenRepository(m),
    revocations: new MongoRevocationLog(m),
    roleChanges: new MongoRoleChangeRepository(m),
  };
}
