/**
 * The storage port: everything the device keeps on disk goes through this interface, so that the
 * core imports no database driver. Adapters (SQLite in `@coffer/server`, PostgreSQL later) implement
 * it and run one contract suite (`runStoreContract` in `@coffer/server`).
 *
 * Rules every adapter keeps:
 * - All methods are async and return plain data (no driver types).
 * - Binary columns are `Buffer`s; times are ISO-8601 strings in UTC with milliseconds.
 * - `transaction` runs `fn` with exclusive access: no other read or write of this store interleaves,
 *   and either everything `fn` wrote is durable when the promise resolves, or nothing is (it throws).
 * - The audit table is append-only: `insertAudit` refuses a `seq` that is not `head + 1`.
 * - Adapter failures surface as `CofferError('ERR_STORE', …)` (or `ERR_CONFLICT` for a duplicate key).
 */

/** Who holds a card: the manual's four manager roles. */
export type CardRole = 'device-manager' | 'system-manager' | 'safe-manager' | 'audit-manager';
/** `replaced`: a newer card of the same slot was made (remake or PIN change); the old file stops working. */
export type CardStatus = 'active' | 'replaced';

/** The device's registry entry for one issued card. `mac` covers the security-relevant fields. */
export interface CardRecord {
  cardId: string;
  slot: string; // A1, A2, A3, B1, B2…, C1, D1
  role: CardRole;
  account: string; // adminA1, adminB1…
  publicKey: Buffer; // SPKI DER, P-256
  status: CardStatus;
  factor: string | null; // System Manager cards only
  createdAt: string;
  replacedAt: string | null;
  /** Wrong PINs in a row on the front panel; not under `mac` (it changes while the device is locked). */
  failedAttempts: number;
  blocked: boolean;
  mac: string; // hex HMAC under the integrity subkey
}

/** The key domain of an initialised device: one row, absent when uninitialised. */
export interface DomainRecord {
  initialisedAt: string;
  kcv: string; // device key check value, 64 hex
  caCertPem: string; // the device CA (management and service TLS)
  caKeySealed: Buffer; // PKCS#8 of the CA key, AES-256-GCM under the KEK
  mac: string;
}

/** One master-key share, AES-256-GCM under the KEK (so a lost A card can be remade while booted). */
export interface ShareRecord {
  slot: string; // A1, A2, A3
  sealed: Buffer;
}

/** The slow verifier (scrypt) of one Device Manager's MK-part PIN. */
export interface MkPartPinRecord {
  slot: string;
  verifier: string;
}

export interface ToolWhitelistRecord {
  ip: string;
  addedAt: string;
  addedBy: string;
  mac: string;
}

export type AuditSource = 'panel' | 'management' | 'integrated' | 'device';
export type AuditResult = 'success' | 'failure';

/** One entry of the append-only, hash-chained audit log (DESIGN §8). */
export interface AuditEntry {
  seq: number; // 1, 2, 3… with no gaps
  time: string; // device time, ISO-8601 UTC with ms
  source: AuditSource;
  account: string; // adminA1, adminB1, an operator name, or '-' when nobody is identified
  clientIp: string;
  businessType: string; // init, boot, login, add, update, delete, download, …
  result: AuditResult;
  content: string; // one line, e.g. "Auth2Boot;first card A1"
  details: string; // free text or JSON text; never secrets
  prevDigest: string; // hex; 64 zeros for the first entry
  digest: string; // hex SHA-256 over prevDigest and the canonical encoding of this entry
}

export interface AuditQuery {
  from?: string; // inclusive, ISO time
  to?: string; // inclusive, ISO time
  sources?: AuditSource[];
  afterSeq?: number;
  limit?: number; // default 100
  offset?: number;
  order?: 'asc' | 'desc'; // by seq, default asc
}

/** Small settings that are not secrets: clock offset, network settings, running-log parameters. */
export type SettingKey = 'clockOffsetMs' | 'network' | 'runningLog';

/** Everything that can be read and written, inside or outside a transaction. */
export interface StoreTx extends ManagementStoreTx {
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  getDomain(): Promise<DomainRecord | null>;
  putDomain(record: DomainRecord): Promise<void>;

  listCards(): Promise<CardRecord[]>;
  getCard(cardId: string): Promise<CardRecord | null>;
  /** Inserts or replaces by `cardId`. */
  putCard(record: CardRecord): Promise<void>;
  setCardAttempts(cardId: string, failedAttempts: number, blocked: boolean): Promise<void>;

  listShares(): Promise<ShareRecord[]>;
  putShare(record: ShareRecord): Promise<void>;

  listMkPartPins(): Promise<MkPartPinRecord[]>;
  putMkPartPin(record: MkPartPinRecord): Promise<void>;

  listToolWhitelist(): Promise<ToolWhitelistRecord[]>;
  /** Throws ERR_CONFLICT when the IP is already listed. */
  addToolWhitelist(record: ToolWhitelistRecord): Promise<void>;
  /** Returns how many of the given IPs were removed. */
  deleteToolWhitelist(ips: string[]): Promise<number>;

  getSetting(key: SettingKey): Promise<string | null>;
  putSetting(key: SettingKey, value: string): Promise<void>;

  auditHead(): Promise<{ seq: number; digest: string } | null>;
  /** Appends one entry; throws ERR_CONFLICT unless `entry.seq` is head + 1. */
  insertAudit(entry: AuditEntry): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
  countAudit(query: Omit<AuditQuery, 'limit' | 'offset' | 'order'>): Promise<number>;

  /**
   * Deletes the whole key domain: domain row, cards, shares, MK-part PIN verifiers, tool whitelist,
   * settings, operators, licences, service whitelist, keys and bindings. Keeps `meta` (device
   * identity, schema) and the audit log.
   */
  wipeDomain(): Promise<void>;
}

export interface Store extends StoreTx {
  readonly kind: string; // 'sqlite', 'postgres'
  /** Runs `fn` atomically and exclusively (see the rules above). */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** The schema version the store is at, and the version this build expects. */
  schemaVersion(): Promise<{ current: number; expected: number }>;
  /** Physically erases freed space (after `wipeDomain`): nothing of the old domain stays in the files. */
  compact(): Promise<void>;
  close(): Promise<void>;
}

// ───────────────────────────── management issue: operators, licences, service whitelist ─────────────────────────────

/** An operator: an application that uses the crypto service (manual §4.4.1.1). `mac` covers every field. */
export interface OperatorRecord {
  name: string; // account name, unique
  description: string;
  creator: string; // adminB1…
  createdAt: string;
  mac: string;
}

export type LicenceStatus = 'current' | 'superseded' | 'revoked';

/**
 * One licence file issued to an operator. Downloading a new licence supersedes the current one (the
 * operator is re-keyed); deleting the operator revokes it. `mac` covers every field but none is secret:
 * the private key is sealed in the licence file under its PIN and never stored by the device.
 */
export interface LicenceRecord {
  serial: string; // certificate serial, hex
  operator: string;
  certFingerprint: string; // SHA-256 of the client certificate DER, hex
  maxConnections: number;
  issuedAt: string;
  issuedBy: string;
  status: LicenceStatus;
  mac: string;
}

/** One (IP, operator) pair of the service whitelist (manual §4.4.1.2). */
export interface ServiceWhitelistRecord {
  ip: string;
  operator: string;
  addedAt: string;
  addedBy: string;
  mac: string;
}

// ───────────────────────────── management issue: keys and bindings ─────────────────────────────

export type KeyClass = 'symmetric' | 'asymmetric';
export type KeyStatus = 'normal' | 'discard' | 'invalid';
export type KeyUsage = 'encrypt' | 'decrypt' | 'sign' | 'verify' | 'mac' | 'wrap' | 'unwrap' | 'derive';

/**
 * A key kept by the device (manual §4.4.2). Key material is `sealed` (AES-256-GCM under the KEK with
 * the place `{ table: 'keys', id: String(index), version }` as associated data); `mac` covers every
 * other field, so an edited status, usage or validity is detected.
 */
export interface KeyRecord {
  index: number; // one sequence for all keys, ≥ 1
  type: string; // AES-256, SM4, HMAC-SHA256, 3DES, RSA-2048, EC-P256, SM2, Ed25519…
  keyClass: KeyClass;
  creator: string;
  status: KeyStatus;
  /** Why an invalid key is invalid: it expired, or the Safe Manager invalidated it. */
  invalidReason: 'expired' | 'manual' | null;
  validityDays: number;
  description: string;
  createdAt: string;
  expiresAt: string;
  usage: KeyUsage[];
  checkValue: string | null; // symmetric keys
  publicKey: string | null; // asymmetric keys: SPKI PEM
  sealed: Buffer;
  version: number; // bumps when the sealed material is re-sealed
  mac: string;
}

export interface KeyQuery {
  from?: string; // creation time, inclusive
  to?: string;
  keyClass?: KeyClass;
  status?: KeyStatus;
  indexes?: number[];
  limit?: number; // default 100
  offset?: number;
  order?: 'asc' | 'desc'; // by index, default desc (newest first, as the manual's tables)
}

/** An operator allowed to use a key (manual §4.4.2.1, bind/unbind). */
export interface KeyBindingRecord {
  keyIndex: number;
  operator: string;
  boundAt: string;
  boundBy: string;
  mac: string;
}

/** Storage for the management issue's records; `StoreTx` includes it. */
export interface ManagementStoreTx {
  listOperators(query: { limit?: number; offset?: number }): Promise<OperatorRecord[]>;
  countOperators(): Promise<number>;
  getOperator(name: string): Promise<OperatorRecord | null>;
  /** Throws ERR_CONFLICT when the name exists. */
  insertOperator(record: OperatorRecord): Promise<void>;
  /** Removes the operator only (callers remove its whitelist pairs and bindings, revoke licences). */
  deleteOperator(name: string): Promise<boolean>;

  listLicences(operator: string): Promise<LicenceRecord[]>;
  getLicence(serial: string): Promise<LicenceRecord | null>;
  /** Inserts or replaces by serial. */
  putLicence(record: LicenceRecord): Promise<void>;

  listServiceWhitelist(query?: { ip?: string; operator?: string }): Promise<ServiceWhitelistRecord[]>;
  /** Throws ERR_CONFLICT when the pair exists. */
  addServiceWhitelist(record: ServiceWhitelistRecord): Promise<void>;
  /** Removes the pairs of `ip` (only with `operator` when given); returns how many. */
  deleteServiceWhitelist(ip: string, operator?: string): Promise<number>;
  deleteServiceWhitelistForOperator(operator: string): Promise<number>;

  /** The next free index (max + 1, at least 1). */
  nextKeyIndex(): Promise<number>;
  getKey(index: number): Promise<KeyRecord | null>;
  /** Throws ERR_CONFLICT when the index is in use. */
  insertKey(record: KeyRecord): Promise<void>;
  /** Replaces an existing key by index; throws ERR_NOT_FOUND when absent. */
  updateKey(record: KeyRecord): Promise<void>;
  deleteKey(index: number): Promise<boolean>;
  listKeys(query: KeyQuery): Promise<KeyRecord[]>;
  countKeys(query: Omit<KeyQuery, 'limit' | 'offset' | 'order'>): Promise<number>;
  /** Normal or discarded keys whose `expiresAt` is at or before `now` (for the expiry sweep). */
  listExpiredKeys(now: string): Promise<KeyRecord[]>;

  listBindings(query: { keyIndex?: number; operator?: string }): Promise<KeyBindingRecord[]>;
  /** Throws ERR_CONFLICT when the pair exists. */
  addBinding(record: KeyBindingRecord): Promise<void>;
  deleteBinding(keyIndex: number, operator: string): Promise<boolean>;
  deleteBindingsForKey(keyIndex: number): Promise<number>;
  deleteBindingsForOperator(operator: string): Promise<number>;
}
