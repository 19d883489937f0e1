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
export { throughput, benchLine, closedLoop, timedEach, type BenchResult, type LoopRun } from './bench.js';
export { startFakeService } from './fake-service.js';
export { startAuditDouble, type AuditDouble } from './audit-double.js';
export { startIdentityDouble, type IdentityDouble } from './identity-double.js';
export {
  LoadDriver,
  loadClient,
  serveLoadCommands,
  harnessTarget,
  sendBytes,
  driveEach,
  driveClosedLoop,
  loadPhase,
  mergePhases,
  figureText,
  serverCpuRatioText,
  envNumber,
  percentile,
  latencyText,
  pool,
  goalLine,
  pct,
  type LoadTarget,
  type ClosedLoopSpec,
  type LoadRun,
  type LoadPhase,
  type PhaseFigure,
} from './load-driver.js';
export { startBareRpc } from './bare-rpc.js';
export { probeStore, probed, unsynced, type ProbedRun, type StoreCounts, type StoreProbe } from './store-probe.js';
export { catchThis, catchInstance, timePorts, portBreakdown, type PortStat, type PortTimers } from './port-breakdown.js';
export { refused, answeredTooLate } from './rpc-refusal.js';
export { drainOutbox } from './drain-outbox.js';
export { startServiceHarness, addFirstReplica, backendEnv, skipReason, STORAGE_BACKENDS, type ServiceHarness, type ChildReplica, type ServiceHarnessOptions } from './service-harness.js';
export { spawnChildReplica } from './child-replica.js';
export { openCommitFloor, type CommitFloor } from './commit-floor.js';
export { startAuditFloor, type AuditFloor } from './audit-floor.js';
export { assertBothOrNeither, type CrashFinding } from './crash-verdict.js';
export { scrapeMetric } from './scrape-metric.js';
