/**
 * The device clock: host time plus an offset that the System Manager sets on the front panel
 * (§3.6, System Time). The host clock is never touched. Every timestamp and expiry uses it.
 */
export class DeviceClock {
  #offsetMs = 0;
  readonly #hostNow: () => number;

  constructor(hostNow: () => number = Date.now) {
    this.#hostNow = hostNow;
  }

  now(): Date {
    return new Date(this.#hostNow() + this.#offsetMs);
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  setOffset(offsetMs: number): void {
    this.#offsetMs = Math.trunc(offsetMs);
  }

  /** The offset that would make the device time `time` now. */
  offsetFor(time: Date): number {
    return time.getTime() - this.#hostNow();
  }

  /** Sets the device time to `time` by choosing the offset from the host clock. */
  setTime(time: Date): number {
    this.#offsetMs = time.getTime() - this.#hostNow();
    return this.#offsetMs;
  }
}
