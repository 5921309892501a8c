export * from './audit/audit-chain.js';
export * from './audit/audit-log.js';
export * from './cards/card-file.js';
export * from './cards/pin-rules.js';
export * from './cards/pin-sealing.js';
export * from './crypto/agreement.js';
export * from './crypto/asym-encrypt.js';
export * from './crypto/asymmetric-keys.js';
export * from './crypto/cipher.js';
export * from './crypto/hash.js';
export * from './crypto/key-transport.js';
export * from './crypto/mac.js';
export * from './crypto/random.js';
export type { SecretKey } from './crypto/secret-key.js';
export * from './crypto/sign.js';
export {
  computeSm2Digest,
  computeSm2Z,
  decryptSm2,
  encryptSm2,
  SM2_DEFAULT_ID,
  SM2_MAX_ID_BYTES,
  type Sm2CiphertextFormat,
  type Sm2SignatureFormat,
  type Sm2SignOptions,
  signSm2,
  verifySm2,
} from './crypto/sm2.js';
export * from './device/card-registry.js';
export * from './device/ceremony-tokens.js';
export * from './device/clock.js';
export * from './device/device.js';
export * from './device/faults.js';
export * from './device/init-ceremony.js';
export * from './device/network.js';
export * from './device/state.js';
export * from './errors.js';
export * from './keyring/keyring.js';
export * from './keyring/master-key.js';
export * from './keyring/pin-verifier.js';
export * from './keyring/quorum.js';
export * from './keyring/sealing.js';
export * from './keys/key-backup.js';
export * from './keys/key-import.js';
export * from './keys/key-lifecycle.js';
export * from './keys/key-material.js';
export * from './keys/key-record.js';
export * from './keys/key-transfer.js';
export * from './keys/key-types.js';
export * from './keys/key-wrap.js';
export * from './operators/licence-file.js';
export * from './operators/licence-issuer.js';
export * from './operators/operator-directory.js';
export * from './operators/operator-records.js';
export * from './operators/service-whitelist.js';
export * from './policy/management-policy.js';
export * from './self-test/known-answer-tests.js';
export * from './self-test/rng-health.js';
export type * from './store/port.js';
