/**
 * The per-stack limit on challenge ACKs (RFC 5961 7): every connection of a stack draws from one
 * budget per second, so an attacker spraying RSTs and SYNs at many connections cannot make the
 * stack answer each one.
 *
 * The budget of each one-second period is random, between half and one and a half times the
 * limit. A fixed budget is a side channel (CVE-2016-5696): an off-path attacker who exhausts it
 * and counts the challenge ACKs its own connection still gets learns whether a guessed 4-tuple
 * or sequence number drew one. Linux randomises the same way.
 */

export class ChallengeAckLimiter {
  /** Challenge ACKs per second on average. */
  readonly limit: number;
  readonly #random: () => number;
  /** The one-second period the budget belongs to (floor(now / 1000)); NaN before the first call. */
  #period = Number.NaN;
  #left = 0;

  /**
   * @param limit average challenge ACKs per second for the whole stack (tcp.challengeAckLimit).
   * @param random a uniform number in [0, 1); default Math.random (tests pass their own).
   */
  constructor(limit: number, random: () => number = Math.random) {
    this.limit = limit;
    this.#random = random;
  }

  /** Takes one challenge ACK from the budget of the current second: false means suppress it. */
  take(now: number): boolean {
    const period = Math.floor(now / 1000);
    if (period !== this.#period) {
      this.#period = period;
      const half = Math.ceil(this.limit / 2);
      this.#left = half + Math.floor(this.#random() * this.limit);
    }
    if (this.#left <= 0) return false;
    this.#left--;
    return true;
  }
}
