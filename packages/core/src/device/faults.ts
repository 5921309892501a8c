/**
 * The manual's §6 table: why a self-test failed and how the buzzer sounds. A FAULT state carries one
 * of these codes; the front panel shows the reason and plays the pattern.
 */
export const FAULTS = {
  FORCED_DEMOLITION: { reason: 'Forced demolitions', buzzer: '2 long & 1 short' },
  DISK_REPLACED: { reason: 'The hard disk is replaced', buzzer: '2 long & 2 short' },
  MEMORY_REPLACED: { reason: 'Memory is replaced', buzzer: '2 long & 3 short' },
  CARD_READER_REPLACED: { reason: 'The card-reader is replaced', buzzer: '2 long & 4 short' },
  NETWORK_CARD_REPLACED: { reason: 'The network-card is replaced', buzzer: '3 long & 1 short' },
  NETWORK_CARD_UNAVAILABLE: { reason: 'Network-card is not available', buzzer: '3 long & 2 short' },
  ARITHMETIC_CHIP_REPLACED: { reason: 'Arithmetic-chip is replaced', buzzer: '3 long and 3 short' },
  SOFTWARE_TAMPERED: { reason: 'Software tampered', buzzer: '3 long and 4 short' },
  OTHER: { reason: 'Other reasons', buzzer: '4 long and 4 short' },
  DATABASE_INIT_FAILED: { reason: 'Database initialization failed', buzzer: 'a long beep, 10 seconds' },
} as const;

export type FaultCode = keyof typeof FAULTS;

/** A self-test failure as the device reports it: the manual's reason, the buzzer and what failed. */
export interface Fault {
  code: FaultCode;
  reason: string;
  buzzer: string;
  /** Which check failed and why, in words (never secrets). */
  detail: string;
  at: string;
}

export function makeFault(code: FaultCode, detail: string, at: Date): Fault {
  return { code, reason: FAULTS[code].reason, buzzer: FAULTS[code].buzzer, detail, at: at.toISOString() };
}
