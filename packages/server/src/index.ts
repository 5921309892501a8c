export { HTTP_STATUS } from './http/error-status.js';
export { installErrorHandling } from './http/error-handler.js';
export { buildPanelApp, type PanelAppOptions } from './panel/panel-app.js';
export { type Daemon, type DaemonOptions, insecureTestKdf, PROGRAM_ROOT, startDaemon } from './daemon/daemon.js';
export { loadOrCreateIdentity, type DeviceIdentity } from './daemon/device-identity.js';
export { makeDeviceCa } from './daemon/device-ca.js';
export { checkProgramIntegrity } from './daemon/program-integrity.js';
export { hostAddresses } from './daemon/host-network.js';
export { openRunningLog, REDACTED_PATHS } from './daemon/running-log.js';
export { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './store/sqlite-store.js';
export {
  SQLITE_MIGRATIONS,
  SQLITE_SCHEMA_VERSION,
  migrateSqlite,
  readSqliteSchemaState,
  type SqliteMigration,
  type SqliteSchemaState,
} from './store/sqlite-migrations.js';
