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
export interface StoreTx {
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
   * settings. Keeps `meta` (device identity, schema) and the audit log.
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
