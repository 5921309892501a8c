/**
 * What the management service tells the crypto service when it changes something a live connection
 * or a cached key depends on. The crypto service also re-reads the store every half second, so a
 * missed call costs at most that long; a call makes the change bite at once. It knows no device and
 * no HTTP: the daemon makes one and hands it to both sides (no global singleton, STYLE item 12).
 *
 * What the management routes call, after the change is committed:
 * - an operator deleted, its licence re-issued or revoked, a whitelist pair added or removed:
 *   `events.operatorsChanged()` (or `operatorsChanged(['app1'])` naming the operators concerned);
 * - a key's status, usage, bindings or material changed, or the key deleted:
 *   `events.keysChanged([index])` (or `keysChanged()` for "any key", e.g. after a restore).
 */
export type ServiceChange =
  | { readonly kind: 'operators'; readonly operators: readonly string[] | null }
  | { readonly kind: 'keys'; readonly indexes: readonly number[] | null };

export type ServiceChangeListener = (change: ServiceChange) => void;

export class ServiceEvents {
  readonly #listeners = new Set<ServiceChangeListener>();

  /** Operators, licences or the service whitelist changed (`null`/absent: any operator). */
  operatorsChanged(operators?: readonly string[]): void {
    this.#emit({ kind: 'operators', operators: operators ?? null });
  }

  /** Keys or their bindings changed (`null`/absent: any key). */
  keysChanged(indexes?: readonly number[]): void {
    this.#emit({ kind: 'keys', indexes: indexes ?? null });
  }

  /** Calls `listener` for every change until the returned function is called. */
  subscribe(listener: ServiceChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: ServiceChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure is its own; the change has already been committed.
      }
    }
  }
}
