/**
 * Logon with a card (manual §4.3, DESIGN §4): the card file is unsealed here, in the browser, with
 * WebCrypto — PBKDF2-SHA256 of the PIN (a–f upper-cased) → AES-256-GCM with the card's place as
 * associated data — and the key inside signs the device's challenge (ECDSA P-256, SHA-256, P1363).
 * Only the card id, the challenge and the signature are sent; the PIN and the private key never
 * leave this page, and the imported key is not extractable.
 */

import { type Api, ApiError, type Session } from './api.js';

interface CardFile {
  format: string;
  version: number;
  cardId: string;
  deviceId: string;
  slot: string;
  account: string;
  role: string;
  sealed: { kdf: string; iterations: number; salt: string; cipher: string; iv: string; ciphertext: string };
}

const b64 = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const toB64 = (bytes: ArrayBuffer): string => btoa(String.fromCharCode(...new Uint8Array(bytes)));

/** Reads a card file's text; refuses what is not a Coffer card. */
export function parseCard(text: string): CardFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError('ERR_CARD_FORMAT', 'This file is not a Coffer card (it is not JSON).', 0, {
      field: 'card',
    });
  }
  const card = value as CardFile;
  if (
    card?.format !== 'coffer-card' ||
    card.version !== 1 ||
    typeof card.cardId !== 'string' ||
    typeof card.sealed?.ciphertext !== 'string'
  ) {
    throw new ApiError('ERR_CARD_FORMAT', 'This file is not a Coffer card.', 0, { field: 'card' });
  }
  if (card.sealed.kdf !== 'PBKDF2-SHA256' || card.sealed.cipher !== 'AES-256-GCM') {
    throw new ApiError('ERR_CARD_FORMAT', 'This card is sealed in a way this tool does not know.', 0, {
      field: 'card',
    });
  }
  return card;
}

/** The card PIN rule, checked before the slow key derivation: 8 of 0–9/A–F, a digit and a letter. */
export function pinProblem(pin: string): string | null {
  const p = pin.replace(/[a-f]/g, (c) => c.toUpperCase());
  if (p.length !== 8) return `The PIN has 8 characters; this one has ${p.length}.`;
  if (!/^[0-9A-F]+$/.test(p)) return 'The PIN uses only 0–9 and A–F.';
  return null;
}

async function unseal(card: CardFile, pin: string): Promise<CryptoKey> {
  const subtle = crypto.subtle;
  const pinKey = await subtle.importKey(
    'raw',
    new TextEncoder().encode(pin.replace(/[a-f]/g, (c) => c.toUpperCase())),
    'PBKDF2',
    false,
    ['deriveKey'],
  );
  const aes = await subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: b64(card.sealed.salt), iterations: card.sealed.iterations },
    pinKey,
    { name: 'AES-GCM', length: 256 },
    false,
    ['decrypt'],
  );
  let plain: ArrayBuffer;
  try {
    plain = await subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: b64(card.sealed.iv),
        additionalData: new TextEncoder().encode(
          `coffer-card/v1/${card.deviceId}/${card.cardId}/${card.slot}`,
        ),
        tagLength: 128,
      },
      aes,
      b64(card.sealed.ciphertext),
    );
  } catch {
    throw new ApiError('ERR_PIN_WRONG', 'The PIN is wrong for this card (or the card file was altered).', 0, {
      field: 'pin',
    });
  }
  const bytes = new Uint8Array(plain);
  try {
    const contents = JSON.parse(new TextDecoder().decode(bytes)) as { pkcs8: string };
    return await subtle.importKey(
      'pkcs8',
      b64(contents.pkcs8),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
  } finally {
    bytes.fill(0); // best effort: JavaScript strings made from it cannot be wiped
  }
}

/** Logs in with `card` and `pin`; sets and returns the session. */
export async function logIn(api: Api, cardText: string, pin: string): Promise<Session> {
  const card = parseCard(cardText);
  const problem = pinProblem(pin);
  if (problem) throw new ApiError('ERR_PIN_RULE', problem, 0, { field: 'pin' });
  const key = await unseal(card, pin);
  const { challenge } = await api.send<{ challenge: string }>('POST', '/api/login/challenge', {
    cardId: card.cardId,
  });
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, b64(challenge));
  const session = await api.send<Session>('POST', '/api/login', {
    cardId: card.cardId,
    challenge,
    signature: toB64(signature),
  });
  api.session = session;
  return session;
}
