import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { checkCardPin, checkMkPartConfirm, checkMkPartPin, normalisePin } from './pin-rules.js';

function refusedWith(code: string, field: string, message: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CofferError);
    assert.equal(err.code, code);
    assert.deepEqual({ ...err.details }, { field });
    assert.equal(err.message, message);
    return true;
  };
}

describe('card PIN rules', () => {
  it('accept 8 characters of 0–9 and A–F with a digit and a letter', () => {
    checkCardPin('1234ABCD');
    checkCardPin('A0000000');
    checkCardPin('1234ABCD', '1234ABCD');
  });

  it('accept lower-case a–f as the keypad’s upper case, in the PIN and its confirmation', () => {
    checkCardPin('1234abcd', '1234ABCD');
    assert.equal(normalisePin('1234abcd'), '1234ABCD');
  });

  it('normalise only a–f, leaving other letters to be refused', () => {
    assert.equal(normalisePin('abcdefgh'), 'ABCDEFgh');
  });

  it('refuse 6 characters with ERR_PIN_RULE saying how many there are', () => {
    assert.throws(
      () => checkCardPin('1234AB'),
      refusedWith('ERR_PIN_RULE', 'pin', 'The PIN must be 8 characters; this one has 6.'),
    );
  });

  it('refuse 9 characters and the empty PIN with ERR_PIN_RULE', () => {
    assert.throws(
      () => checkCardPin('1234ABCD0'),
      refusedWith('ERR_PIN_RULE', 'pin', 'The PIN must be 8 characters; this one has 9.'),
    );
    assert.throws(
      () => checkCardPin(''),
      refusedWith('ERR_PIN_RULE', 'pin', 'The PIN must be 8 characters; this one has 0.'),
    );
  });

  it('refuse a G with ERR_PIN_RULE naming it', () => {
    assert.throws(
      () => checkCardPin('1234ABCG'),
      refusedWith('ERR_PIN_RULE', 'pin', "The PIN may only use 0–9 and A–F; 'G' is not allowed."),
    );
  });

  it('refuse a lower-case g as itself, not as G', () => {
    assert.throws(
      () => checkCardPin('1234abcg'),
      refusedWith('ERR_PIN_RULE', 'pin', "The PIN may only use 0–9 and A–F; 'g' is not allowed."),
    );
  });

  it('name a space by its code point', () => {
    assert.throws(
      () => checkCardPin('1234 BCD'),
      refusedWith('ERR_PIN_RULE', 'pin', 'The PIN may only use 0–9 and A–F; U+0020 is not allowed.'),
    );
  });

  it('count an emoji as one character', () => {
    assert.throws(
      () => checkCardPin('1234ABC😀'),
      refusedWith('ERR_PIN_RULE', 'pin', "The PIN may only use 0–9 and A–F; '😀' is not allowed."),
    );
  });

  it('refuse all digits with ERR_PIN_RULE asking for a letter', () => {
    assert.throws(
      () => checkCardPin('12345678'),
      refusedWith('ERR_PIN_RULE', 'pin', 'The PIN must contain at least one letter (A–F).'),
    );
  });

  it('refuse all letters with ERR_PIN_RULE asking for a digit', () => {
    assert.throws(
      () => checkCardPin('ABCDEFAB'),
      refusedWith('ERR_PIN_RULE', 'pin', 'The PIN must contain at least one digit (0–9).'),
    );
  });

  it('refuse a confirmation that differs with ERR_PIN_MISMATCH on the confirm field', () => {
    assert.throws(
      () => checkCardPin('1234ABCD', '1234ABCE'),
      refusedWith('ERR_PIN_MISMATCH', 'confirm', 'The two PINs do not match.'),
    );
  });

  it('check the PIN’s own rules before comparing the confirmation', () => {
    assert.throws(
      () => checkCardPin('1234', '1234'),
      refusedWith('ERR_PIN_RULE', 'pin', 'The PIN must be 8 characters; this one has 4.'),
    );
  });
});

describe('MK-part PIN rules', () => {
  it('are the card PIN rules, reported on the mkPartPin field', () => {
    checkMkPartPin('9876FEDC', '9876fedc');
    assert.throws(
      () => checkMkPartPin('9876'),
      refusedWith('ERR_PIN_RULE', 'mkPartPin', 'The MK-part PIN must be 8 characters; this one has 4.'),
    );
    assert.throws(
      () => checkMkPartPin('98765432'),
      refusedWith('ERR_PIN_RULE', 'mkPartPin', 'The MK-part PIN must contain at least one letter (A–F).'),
    );
  });

  it('refuse a confirmation that differs with ERR_PIN_MISMATCH on mkPartPinConfirm', () => {
    assert.throws(
      () => checkMkPartPin('9876FEDC', '9876FEDD'),
      refusedWith('ERR_PIN_MISMATCH', 'mkPartPinConfirm', 'The two MK-part PINs do not match.'),
    );
  });
});

describe('MK part confirmation', () => {
  const part = '00112233445566778899AABBCCDDEEFF';

  it('accepts the same hex in either case', () => {
    checkMkPartConfirm(part, part.toLowerCase());
  });

  it('refuses a different part with ERR_MK_PART_MISMATCH on mkPartConfirm', () => {
    assert.throws(
      () => checkMkPartConfirm(part, part.replace('FF', 'FE')),
      refusedWith('ERR_MK_PART_MISMATCH', 'mkPartConfirm', 'The two MK parts do not match.'),
    );
  });
});
