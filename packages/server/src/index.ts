export {
  type Daemon,
  type DaemonOptions,
  insecureTestKdf,
  PROGRAM_ROOT,
  startDaemon,
} from './daemon/daemon.js';
export { makeDeviceCa } from './daemon/device-ca.js';
export { type DeviceIdentity, loadOrCreateIdentity } from './daemon/device-identity.js';
export { hostAddresses } from './daemon/host-network.js';
export { checkProgramIntegrity } from './daemon/program-integrity.js';
export { openRunningLog, REDACTED_PATHS } from './daemon/running-log.js';
export { installErrorHandling } from './http/error-handler.js';
export { HTTP_STATUS } from './http/error-status.js';
export { buildPanelApp, type PanelAppOptions } from './panel/panel-app.js';
export {
  migrateSqlite,
  readSqliteSchemaState,
  SQLITE_MIGRATIONS,
  SQLITE_SCHEMA_VERSION,
  type SqliteMigration,
  type SqliteSchemaState,
} from './store/sqlite-migrations.js';
export { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './store/sqlite-store.js';
