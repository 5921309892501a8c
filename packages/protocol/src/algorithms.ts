/**
 * The names the protocol carries for algorithms and key attributes. They are the same strings as
 * @coffer/core's lists (HASH_ALGORITHMS, SIGNATURE_ALGORITHMS, …), the REST API and `coffer client`;
 * this package depends on nothing of Coffer's, so it spells them out again and the server checks
 * at compile time that both lists agree.
 */
export const HASH_ALGORITHMS = [
  'sha1',
  'sha224',
  'sha256',
  'sha384',
  'sha512',
  'sha3-256',
  'sha3-384',
  'sha3-512',
  'sm3',
] as const;
export const MAC_ALGORITHMS = [
  'hmac-sha256',
  'hmac-sha384',
  'hmac-sha512',
  'hmac-sm3',
  'aes-cmac',
  'sm4-cmac',
  '3des-cmac',
] as const;
export const CIPHER_MODES = ['gcm', 'cbc', 'ctr', 'ecb'] as const;
export const CIPHER_PADDINGS = ['pkcs7', 'none'] as const;
export const SIGNATURE_ALGORITHMS = [
  'rsa-pkcs1-sha256',
  'rsa-pkcs1-sha384',
  'rsa-pkcs1-sha512',
  'rsa-pss-sha256',
  'rsa-pss-sha384',
  'rsa-pss-sha512',
  'ecdsa-sha256',
  'ecdsa-sha384',
  'ecdsa-sha512',
  'sm2-sm3',
  'ed25519',
] as const;
export const SIGNATURE_FORMATS = ['der', 'raw'] as const;
export const ASYMMETRIC_ENCRYPTIONS = ['rsa-oaep-sha1', 'rsa-oaep-sha256', 'rsa-pkcs1', 'sm2'] as const;
export const SM2_CIPHERTEXT_FORMATS = ['der', 'c1c3c2'] as const;
export const WRAP_ALGORITHMS = ['aes-kw', 'aes-kwp', 'rsa-oaep-sha1', 'rsa-oaep-sha256', 'sm2'] as const;
export const AGREEMENT_KDFS = ['hkdf-sha256', 'hkdf-sha384', 'hkdf-sha512'] as const;
export const KEY_CLASSES = ['symmetric', 'asymmetric'] as const;
export const KEY_STATUSES = ['normal', 'discard', 'invalid'] as const;
export const KEY_USAGES = [
  'encrypt',
  'decrypt',
  'sign',
  'verify',
  'mac',
  'wrap',
  'unwrap',
  'derive',
] as const;

export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];
export type CipherMode = (typeof CIPHER_MODES)[number];
export type CipherPadding = (typeof CIPHER_PADDINGS)[number];
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
export type AsymmetricEncryption = (typeof ASYMMETRIC_ENCRYPTIONS)[number];
export type WrapAlgorithm = (typeof WRAP_ALGORITHMS)[number];
export type AgreementKdf = (typeof AGREEMENT_KDFS)[number];
