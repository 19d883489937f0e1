// @gatehouse/testing: find a MongoDB and run one repository contract against both backends.
export {
  findMongo,
  startJongodb,
  jongodbBinary,
  describeMongoFeature,
  MONGO_FEATURES,
  type MongoFeature,
  type MongoFlavour,
  type MongoLookup,
  type FoundMongo,
  type NoMongo,
} from './find-mongo.js';
export {
  describeRepositoryContract,
  ContractReport,
  type Backend,
  type BackendHandle,
  type CaseEnv,
  type CaseFn,
  type CaseOptions,
  type ContractFactories,
  type SkippedCase,
} from './repository-contract.js';
export { tempDir, type TempDir } from './temp-dir.js';
export { uniqueDbName } from './unique-db-name.js';
export { testSessionIssuer, type TestSessionIssuer } from './sessions.js';
export { throughput, benchLine, type BenchResult } from './bench.js';
export { startFakeService } from './fake-service.js';
export { startAuditDouble, type AuditDouble } from './audit-double.js';
export { LoadDriver, loadClient, serveLoadCommands, envNumber, percentile, latencyText, pool, goalLine, pct } from './load-driver.js';
export { refused } from './rpc-refusal.js';
export { drainOutbox } from './drain-outbox.js';
export { startServiceHarness, backendEnv, STORAGE_BACKENDS, type ServiceHarness, type ServiceHarnessOptions } from './service-harness.js';
