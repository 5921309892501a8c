export {
  type Daemon,
  type DaemonOptions,
  insecureTestKdf,
  PROGRAM_ROOT,
  startDaemon,
} from './daemon/daemon.js';
export {
  type DeviceCaMaterial,
  type IssuedCertificate,
  type IssueOptions,
  issueClientCertificate,
  issueServerCertificate,
  loadDeviceCa,
  makeDeviceCa,
} from './daemon/device-ca.js';
export { type DeviceIdentity, loadOrCreateIdentity } from './daemon/device-identity.js';
export { hostAddresses } from './daemon/host-network.js';
export { checkProgramIntegrity } from './daemon/program-integrity.js';
export { openRunningLog, openRunningLogFiles, REDACTED_PATHS } from './daemon/running-log.js';
export {
  checkRunningLogSettings,
  DEFAULT_RUNNING_LOG_SETTINGS,
  parseRunningLogSettings,
  RUNNING_LOG_LEVELS,
  type RunningLogFile,
  RunningLogFiles,
  type RunningLogLevel,
  type RunningLogSettings,
} from './daemon/running-log-files.js';
export { installErrorHandling } from './http/error-handler.js';
export { HTTP_STATUS } from './http/error-status.js';
export { registerAuditManagerRoutes } from './management/audit-manager-routes.js';
export type {
  ManagementAuditEntry,
  ManagementContext,
  ManagementSlice,
  ManagerSession,
} from './management/context.js';
export {
  type JobError,
  type JobOutcome,
  JobRegistry,
  type JobStatus,
  type JobView,
} from './management/jobs.js';
export {
  buildManagementApp,
  clientIp,
  defaultManagementSlices,
  MANAGEMENT_API_DOC_HEADER,
  MANAGEMENT_BODY_LIMIT,
  MANAGEMENT_FILE_BODY_LIMIT,
  type ManagementAppOptions,
  renderManagementOpenApi,
} from './management/management-app.js';
export {
  ManagementListener,
  type ManagementListenerOptions,
} from './management/management-listener.js';
export {
  KEY_EXPIRY_SWEEP_MS,
  registerSafeManagerRoutes,
  runKeyExpirySweep,
} from './management/safe-manager-routes.js';
export { buildPanelApp, type PanelAppOptions } from './panel/panel-app.js';
export { type PanelFileDirs, servePanelFiles } from './panel/panel-files.js';
export {
  type Admission,
  checkLicence,
  checkWhitelist,
  type PresentedCertificate,
} from './service/admission.js';
export {
  type BatchItemResult,
  Dispatcher,
  type DispatcherOptions,
  type ServiceSession,
  type WireError,
  wireError,
} from './service/dispatcher.js';
export {
  KeyAccess,
  KeyAccessError,
  type KeyAccessOptions,
  type KeyNeed,
  type ServiceKey,
} from './service/key-access.js';
export {
  buildServiceRestApp,
  renderServiceOpenApi,
  SERVICE_API_DOC_HEADER,
  SERVICE_REST_BODY_LIMIT,
  type ServiceRestAppOptions,
} from './service/rest-app.js';
export {
  BATCHABLE_COMMANDS,
  SERVICE_COMMANDS,
  type ServiceCommandName,
  type ServiceRequest,
  type ServiceRequestOf,
  type ServiceResponseOf,
  type SingleCommandName,
} from './service/service-commands.js';
export { type ServiceChange, type ServiceChangeListener, ServiceEvents } from './service/service-events.js';
export { CryptoServiceListener, type CryptoServiceListenerOptions } from './service/service-listener.js';
export { type PoolKey, WorkerPool, type WorkerPoolOptions } from './service/worker-pool.js';
export {
  migrateSqlite,
  readSqliteSchemaState,
  SQLITE_MIGRATIONS,
  SQLITE_SCHEMA_VERSION,
  type SqliteMigration,
  type SqliteSchemaState,
} from './store/sqlite-migrations.js';
export { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './store/sqlite-store.js';
