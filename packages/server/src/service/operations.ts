import type { KeyObject } from 'node:crypto';
import {
  CofferError,
  computeMac,
  computeSm2Digest,
  computeSm2Z,
  decryptAsymmetric,
  decryptSymmetric,
  deriveSharedSecret,
  encryptAsymmetric,
  encryptSymmetric,
  generateDataKey,
  generateRandom,
  hashData,
  importPublicKey,
  type KeyFamily,
  type KeyUsage,
  signData,
  unwrapKeyMaterial,
  verifyMacTag,
  verifySignature,
  wrapKeyMaterial,
} from '@coffer/core';
import type { ServiceRequest, ServiceResponseOf, SingleCommandName } from './service-commands.js';

/**
 * The crypto of every operation, given the request and the stored key's material: pure and
 * synchronous over `@coffer/core`'s engine, so that the same code runs inline on the main thread
 * and in a worker thread (crypto-worker.ts). Who may use which key is decided before this
 * (key-access.ts); what an algorithm demands of its inputs is the engine's to check.
 */

/** A stored key as the operations use it: a secret, or a key pair (SM2 loaded from PKCS#8, so real SM2). */
export type OperationKey =
  | { readonly kind: 'secret'; readonly type: string; readonly family: KeyFamily; readonly secret: KeyObject }
  | {
      readonly kind: 'pair';
      readonly type: string;
      readonly family: KeyFamily;
      readonly privateKey: KeyObject;
      readonly publicKey: KeyObject;
    };

/** The operations this module runs (the others are the dispatcher's: ping, info, keys). */
export type CryptoCommandName = Exclude<
  SingleCommandName,
  'ping' | 'info' | 'list-keys' | 'key-info' | 'public-key'
>;
export type CryptoRequest = Extract<ServiceRequest, { command: CryptoCommandName }>;

export function isCryptoCommand(request: ServiceRequest): request is CryptoRequest {
  return !['ping', 'info', 'list-keys', 'key-info', 'public-key'].includes(request.command);
}

/**
 * The usage flag a stored key needs for the request (DESIGN §5), or null when the request names no
 * stored key. `sm2-digest` uses only the public half: a key that may sign or verify will do.
 */
export function usageFor(request: ServiceRequest): readonly KeyUsage[] | null {
  switch (request.command) {
    case 'mac':
    case 'verify-mac':
      return ['mac'];
    case 'encrypt':
    case 'asym-encrypt':
      return request.request.key === undefined ? null : ['encrypt'];
    case 'decrypt':
    case 'asym-decrypt':
      return ['decrypt'];
    case 'sign':
      return ['sign'];
    case 'verify':
      return request.request.key === undefined ? null : ['verify'];
    case 'sm2-digest':
      return request.request.key === undefined ? null : ['sign', 'verify'];
    case 'generate-data-key':
    case 'wrap':
      return ['wrap'];
    case 'unwrap':
      return ['unwrap'];
    case 'derive':
      return ['derive'];
    case 'key-info':
    case 'public-key':
      return [];
    default:
      return null;
  }
}

/** The stored key a request names, if any. */
export function keyIndexOf(request: ServiceRequest): number | undefined {
  const r = request.request as { key?: number };
  return r.key;
}

const MAC_FAMILY: Record<string, { family: KeyFamily; type?: string }> = {
  'hmac-sha256': { family: 'hmac', type: 'HMAC-SHA256' },
  'hmac-sha384': { family: 'hmac', type: 'HMAC-SHA384' },
  'hmac-sha512': { family: 'hmac', type: 'HMAC-SHA512' },
  'hmac-sm3': { family: 'hmac', type: 'HMAC-SM3' },
  'aes-cmac': { family: 'aes' },
  'sm4-cmac': { family: 'sm4' },
  '3des-cmac': { family: '3des' },
};
const WRAP_FAMILY: Record<string, KeyFamily> = {
  'aes-kw': 'aes',
  'aes-kwp': 'aes',
  'rsa-oaep-sha1': 'rsa',
  'rsa-oaep-sha256': 'rsa',
  sm2: 'sm2',
};

function refuseFit(what: string, type: string): never {
  throw new CofferError('ERR_ALGORITHM', `${what} does not work with a ${type} key.`, { field: 'algorithm' });
}

/**
 * Checks that the request's algorithm suits the stored key's type where the engine cannot tell
 * (a secret key is bytes to it: an HMAC-SHA384 key would compute HMAC-SHA256 just as well).
 * Signatures, asymmetric encryption and ECDH are checked by the engine against the key itself.
 *
 * @throws CofferError ERR_ALGORITHM.
 */
export function assertAlgorithmFits(request: ServiceRequest, key: { type: string; family: KeyFamily }): void {
  switch (request.command) {
    case 'mac':
    case 'verify-mac': {
      const want = MAC_FAMILY[request.request.algorithm];
      if (!want || want.family !== key.family || (want.type && want.type !== key.type))
        refuseFit(request.request.algorithm, key.type);
      return;
    }
    case 'encrypt':
    case 'decrypt':
      if (key.family !== 'aes' && key.family !== 'sm4' && key.family !== '3des')
        refuseFit('Symmetric encryption', key.type);
      return;
    case 'generate-data-key':
    case 'wrap':
    case 'unwrap':
      if (WRAP_FAMILY[request.request.algorithm] !== key.family)
        refuseFit(request.request.algorithm, key.type);
      return;
    case 'sign':
    case 'verify':
    case 'asym-encrypt':
    case 'asym-decrypt':
    case 'derive':
    case 'sm2-digest':
      if (key.family === 'aes' || key.family === 'sm4' || key.family === '3des' || key.family === 'hmac')
        refuseFit(request.command, key.type);
      return;
    default:
      return;
  }
}

function pairOf(key: OperationKey | null): { privateKey: KeyObject; publicKey: KeyObject } {
  if (key?.kind !== 'pair') throw new CofferError('ERR_ALGORITHM', 'This operation needs a key pair.');
  return key;
}

function secretOf(key: OperationKey | null): KeyObject {
  if (key?.kind !== 'secret') throw new CofferError('ERR_ALGORITHM', 'This operation needs a secret key.');
  return key.secret;
}

function publicKeyFor(key: OperationKey | null, given: Uint8Array | undefined): KeyObject {
  return given !== undefined ? importPublicKey(given) : pairOf(key).publicKey;
}

function cipherOf(key: OperationKey | null): 'aes' | 'sm4' | '3des' {
  const family = key?.family;
  if (family !== 'aes' && family !== 'sm4' && family !== '3des') {
    throw new CofferError('ERR_ALGORITHM', 'Symmetric encryption needs an AES, SM4 or 3DES key.');
  }
  return family;
}

type Response = ServiceResponseOf<CryptoCommandName>;

/**
 * Runs one operation. `key` is the stored key the request names (null when it names none); `iv`
 * is the IV the dispatcher drew for an `encrypt` that gave none (the engine draws one otherwise).
 * Options absent from the request are passed as `undefined`, which the engine treats as absent
 * (no object spreading on this path: it runs for every small request).
 *
 * @throws CofferError ERR_ALGORITHM, ERR_CRYPTO_INPUT, ERR_CIPHERTEXT from the engine.
 */
export function runOperation(req: CryptoRequest, key: OperationKey | null, iv?: Buffer): Response {
  switch (req.command) {
    case 'random':
      return { data: generateRandom(req.request.length) };
    case 'hash':
      return { digest: hashData(req.request.algorithm, req.request.data) };
    case 'sm2-digest': {
      const r = req.request;
      const publicKey = publicKeyFor(key, r.publicKey);
      return { digest: computeSm2Digest(publicKey, r.data, r.id), z: computeSm2Z(publicKey, r.id) };
    }
    case 'mac': {
      const r = req.request;
      return { mac: computeMac(r.algorithm, secretOf(key), r.data, r.length) };
    }
    case 'verify-mac': {
      const r = req.request;
      return verifyMacTag(r.algorithm, secretOf(key), r.data, r.mac);
    }
    case 'encrypt': {
      const r = req.request;
      const out = encryptSymmetric({
        cipher: cipherOf(key),
        mode: r.mode,
        key: secretOf(key),
        data: r.data,
        iv: r.iv ?? iv,
        aad: r.aad,
        padding: r.padding,
      });
      const response: ServiceResponseOf<'encrypt'> = { ciphertext: out.ciphertext };
      if (out.iv) response.iv = out.iv;
      if (out.tag) response.tag = out.tag;
      return response;
    }
    case 'decrypt': {
      const r = req.request;
      const plaintext = decryptSymmetric({
        cipher: cipherOf(key),
        mode: r.mode,
        key: secretOf(key),
        data: r.data,
        iv: r.iv,
        aad: r.aad,
        tag: r.tag,
        padding: r.padding,
      });
      return { plaintext };
    }
    case 'sign': {
      const r = req.request;
      const options = { prehashed: r.prehashed, format: r.format, id: r.id, saltLength: r.saltLength };
      return { signature: signData(r.algorithm, pairOf(key).privateKey, r.data, options) };
    }
    case 'verify': {
      const r = req.request;
      const options = { prehashed: r.prehashed, format: r.format, id: r.id, saltLength: r.saltLength };
      return verifySignature(r.algorithm, publicKeyFor(key, r.publicKey), r.data, r.signature, options);
    }
    case 'asym-encrypt': {
      const r = req.request;
      const options = { label: r.label, sm2Format: r.format };
      return { ciphertext: encryptAsymmetric(r.algorithm, publicKeyFor(key, r.publicKey), r.data, options) };
    }
    case 'asym-decrypt': {
      const r = req.request;
      return {
        plaintext: decryptAsymmetric(r.algorithm, pairOf(key).privateKey, r.data, { label: r.label }),
      };
    }
    case 'generate-data-key': {
      const r = req.request;
      return generateDataKey(r.algorithm, kekOf(key, 'wrap'), r.length);
    }
    case 'wrap': {
      const r = req.request;
      return { wrapped: wrapKeyMaterial(r.algorithm, kekOf(key, 'wrap'), r.keyMaterial) };
    }
    case 'unwrap': {
      const r = req.request;
      return { keyMaterial: unwrapKeyMaterial(r.algorithm, kekOf(key, 'unwrap'), r.wrapped) };
    }
    case 'derive': {
      const r = req.request;
      const options = { kdf: r.kdf, salt: r.salt, info: r.info, length: r.length };
      return { secret: deriveSharedSecret(pairOf(key).privateKey, importPublicKey(r.publicKey), options) };
    }
  }
}

function kekOf(key: OperationKey | null, direction: 'wrap' | 'unwrap'): KeyObject {
  if (key?.kind === 'secret') return key.secret;
  const pair = pairOf(key);
  return direction === 'wrap' ? pair.publicKey : pair.privateKey;
}
