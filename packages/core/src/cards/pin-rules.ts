import { CofferError } from '../errors.js';

/**
 * PIN rules of DESIGN §4: the panel keypad has 0–9 and A–F, so a PIN is 8 of those, with at least
 * one digit and one letter (so that neither an all-digit date nor a word of hex letters passes).
 * Lower-case a–f are accepted from keyboards and read as upper case.
 */
export const PIN_LENGTH = 8;

/** Upper-cases a–f only; anything else is left for the rules to refuse with a precise sentence. */
export function normalisePin(pin: string): string {
  return pin.replace(/[a-f]/g, (c) => c.toUpperCase());
}

/**
 * Checks a card PIN (and its confirmation, when the form has one).
 *
 * @throws CofferError ERR_PIN_RULE (`details.field = 'pin'`) with a sentence saying which rule failed.
 * @throws CofferError ERR_PIN_MISMATCH (`details.field = 'confirm'`) when `confirm` is given and differs.
 */
export function checkCardPin(pin: string, confirm?: string): void {
  checkPin(pin, confirm, { label: 'The PIN', plural: 'PINs', field: 'pin', confirmField: 'confirm' });
}

/**
 * Checks a licence PIN (chosen by the System Manager when downloading a licence file); same rules as
 * a card PIN, since the same people type it on the same kinds of keypads.
 *
 * @throws CofferError ERR_PIN_RULE (`details.field = 'pin'`) with a sentence saying which rule failed.
 * @throws CofferError ERR_PIN_MISMATCH (`details.field = 'pinConfirm'`) when `confirm` is given and differs.
 */
export function checkLicencePin(pin: string, confirm?: string): void {
  checkPin(pin, confirm, {
    label: 'The licence PIN',
    plural: 'licence PINs',
    field: 'pin',
    confirmField: 'pinConfirm',
  });
}

/**
 * Checks an MK-part PIN (the component key protection password); same rules as a card PIN.
 *
 * @throws CofferError ERR_PIN_RULE (`details.field = 'mkPartPin'`) with a sentence saying which rule failed.
 * @throws CofferError ERR_PIN_MISMATCH (`details.field = 'mkPartPinConfirm'`) when `confirm` is given and differs.
 */
export function checkMkPartPin(pin: string, confirm?: string): void {
  checkPin(pin, confirm, {
    label: 'The MK-part PIN',
    plural: 'MK-part PINs',
    field: 'mkPartPin',
    confirmField: 'mkPartPinConfirm',
  });
}

/**
 * Checks that the MK part was typed the same twice (case does not matter: it is hex).
 *
 * @throws CofferError ERR_MK_PART_MISMATCH (`details.field = 'mkPartConfirm'`).
 */
export function checkMkPartConfirm(mkPart: string, confirm: string): void {
  if (typeof confirm !== 'string' || mkPart.toUpperCase() !== confirm.toUpperCase()) {
    throw new CofferError('ERR_MK_PART_MISMATCH', 'The two MK parts do not match.', {
      field: 'mkPartConfirm',
    });
  }
}

interface PinLabels {
  label: string;
  plural: string;
  field: string;
  confirmField: string;
}

function checkPin(pin: string, confirm: string | undefined, labels: PinLabels): void {
  const { label, plural, field, confirmField } = labels;
  const refuse = (sentence: string): never => {
    throw new CofferError('ERR_PIN_RULE', sentence, { field });
  };
  if (typeof pin !== 'string') refuse(`${label} is missing.`);
  const chars = Array.from(normalisePin(pin));
  if (chars.length !== PIN_LENGTH) {
    refuse(`${label} must be ${PIN_LENGTH} characters; this one has ${chars.length}.`);
  }
  const bad = chars.find((c) => !/^[0-9A-F]$/.test(c));
  if (bad !== undefined) refuse(`${label} may only use 0–9 and A–F; ${showChar(bad)} is not allowed.`);
  if (!chars.some((c) => /[0-9]/.test(c))) refuse(`${label} must contain at least one digit (0–9).`);
  if (!chars.some((c) => /[A-F]/.test(c))) refuse(`${label} must contain at least one letter (A–F).`);
  if (confirm !== undefined && (typeof confirm !== 'string' || normalisePin(confirm) !== normalisePin(pin))) {
    throw new CofferError('ERR_PIN_MISMATCH', `The two ${plural} do not match.`, { field: confirmField });
  }
}

/** Printable characters are quoted; others (space, tab, control) are named by code point. */
function showChar(c: string): string {
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(c)
    ? `'${c}'`
    : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
