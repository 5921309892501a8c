import { randomBytes } from 'node:crypto';
import { CofferError } from '../errors.js';
import type { SelfTest } from './known-answer-tests.js';

/**
 * Health tests of the random generator (DESIGN §10) in the manner of NIST SP 800-90B §4.4, run over
 * bytes from the generator the device uses:
 *
 * - Repetition Count Test (§4.4.1): fails when one value repeats `RCT_CUTOFF` times in a row.
 * - Adaptive Proportion Test (§4.4.2): in each window of `APT_WINDOW` samples, fails when the
 *   window's first value occurs `APT_CUTOFF` times or more.
 * - Two consecutive 32-byte outputs must differ (a generator stuck on a whole block, which the
 *   per-sample tests cannot see, as FIPS 140-2's continuous test did).
 *
 * The cutoffs follow §4.4 with H = 8 bits per byte (the OS generator's output is conditioned, so it
 * is credited full entropy) and a false-alarm rate α = 2^-40 per test, the smallest 90B allows, so
 * a healthy device essentially never faults at power-on while a stuck or badly biased one does.
 */
export const RNG_SAMPLE_BYTES = 4096;
export const ENTROPY_PER_BYTE = 8;
export const ALPHA_LOG2 = -40;
/** §4.4.1: C = 1 + ⌈−log2(α) / H⌉. */
export const RCT_CUTOFF = 1 + Math.ceil(-ALPHA_LOG2 / ENTROPY_PER_BYTE);
/** §4.4.2: W = 512 for non-binary samples. */
export const APT_WINDOW = 512;
/** §4.4.2: C = 1 + CRITBINOM(W, 2^−H, 1 − α). */
export const APT_CUTOFF = 1 + critBinom(APT_WINDOW, 2 ** -ENTROPY_PER_BYTE, ALPHA_LOG2);

/**
 * The random generator's health test. `sample(n)` must return `n` fresh bytes; it defaults to
 * `crypto.randomBytes` and is injectable so a test can feed it a broken generator.
 * `run` throws CofferError ERR_INTERNAL saying which check failed.
 */
export function rngHealthTest(sample: (n: number) => Buffer = randomBytes): SelfTest {
  const name = 'Random generator health (SP 800-90B repetition count and adaptive proportion)';
  const fail = (what: string): never => {
    throw new CofferError('ERR_INTERNAL', `The random generator failed its health test: ${what}.`);
  };
  return {
    name,
    async run() {
      const bytes = draw(sample, RNG_SAMPLE_BYTES, fail);
      const run = longestRun(bytes);
      if (run >= RCT_CUTOFF) fail(`one value repeated ${run} times in a row (cutoff ${RCT_CUTOFF})`);
      const worst = worstWindowCount(bytes);
      if (worst >= APT_CUTOFF) {
        fail(`one value filled ${worst} of ${APT_WINDOW} samples in a window (cutoff ${APT_CUTOFF})`);
      }
      const a = draw(sample, 32, fail);
      const b = draw(sample, 32, fail);
      if (a.equals(b)) fail('two consecutive 32-byte outputs are equal');
    },
  };
}

function draw(sample: (n: number) => Buffer, n: number, fail: (what: string) => never): Buffer {
  const out = sample(n);
  if (!Buffer.isBuffer(out) || out.length !== n)
    fail(`asked for ${n} bytes, it gave ${out?.length ?? 'none'}`);
  return out;
}

/** The Repetition Count Test's statistic: the longest run of one value. */
function longestRun(bytes: Buffer): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < bytes.length; i++) {
    run = i > 0 && bytes[i] === bytes[i - 1] ? run + 1 : 1;
    if (run > longest) longest = run;
  }
  return longest;
}

/** The Adaptive Proportion Test's statistic: per window, how often its first value occurs; the worst. */
function worstWindowCount(bytes: Buffer): number {
  let worst = 0;
  for (let start = 0; start + APT_WINDOW <= bytes.length; start += APT_WINDOW) {
    const first = bytes[start];
    let count = 0;
    for (let i = start; i < start + APT_WINDOW; i++) if (bytes[i] === first) count++;
    if (count > worst) worst = count;
  }
  return worst;
}

/**
 * The smallest k with P(X ≤ k) ≥ 1 − α for X ~ Binomial(n, p), i.e. Excel's CRITBINOM as 90B uses it.
 * Summed from the upper tail so that α = 2^-40 is not lost in rounding 1 − α.
 */
function critBinom(n: number, p: number, alphaLog2: number): number {
  const alpha = 2 ** alphaLog2;
  const logPmf = (k: number): number => logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
  let tail = 0; // P(X > k)
  for (let k = n; k >= 0; k--) {
    if (tail + Math.exp(logPmf(k)) > alpha) return k;
    tail += Math.exp(logPmf(k));
  }
  return 0;
}

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
  return s;
}
