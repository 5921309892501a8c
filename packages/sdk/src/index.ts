/**
 * The Coffer SDK: connect to a Coffer device's crypto service with a licence file and use its keys
 * (manual §5, docs/integration.md). Depends on @coffer/protocol and Node only.
 */
export {
  AGREEMENT_KDFS,
  type AgreementKdf,
  ASYMMETRIC_ENCRYPTIONS,
  type AsymmetricEncryption,
  CIPHER_MODES,
  CIPHER_PADDINGS,
  type CipherMode,
  type CipherPadding,
  HASH_ALGORITHMS,
  type HashAlgorithm,
  MAC_ALGORITHMS,
  type MacAlgorithm,
  SIGNATURE_ALGORITHMS,
  SIGNATURE_FORMATS,
  type SignatureAlgorithm,
  SM2_CIPHERTEXT_FORMATS,
  WRAP_ALGORITHMS,
  type WrapAlgorithm,
} from '@coffer/protocol';
export {
  BATCHABLE,
  type BatchableName,
  type BatchResult,
  type CallOptions,
  CofferClient,
  type ConnectOptions,
  connect,
  type EncryptResult,
  type KeyInfo,
} from './client.js';
export type { Address, ServerInfo } from './connection.js';
export * from './errors.js';
export {
  isOpenedLicence,
  type LicenceFile,
  licenceAssociatedData,
  type OpenedLicence,
  openLicence,
  parseLicence,
  readLicence,
} from './licence.js';
