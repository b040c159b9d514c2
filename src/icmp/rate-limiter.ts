/**
 * A token bucket: `ratePerSecond` tokens flow in, at most `burst` are kept, each message takes
 * one. Used for ICMP errors (RFC 1122 3.2.2 asks for a rate limit, RFC 4443 2.4(f) describes the
 * bucket) and for ARP requests. Pure: the caller passes `now` in milliseconds.
 *
 * The bucket starts full. A clock that goes backwards adds no tokens (it never takes any away).
 * Tokens are fractional, so a rate below one per second works (0.5 = one every two seconds).
 */
export class TokenBucket {
  private tokens: number;
  /** ms of the last refill; undefined until the first call, so the first call sees a full bucket. */
  private last: number | undefined;

  /**
   * @param ratePerSecond tokens added per second (>= 0; 0 means only the initial burst).
   * @param burst bucket size (>= 1 to ever allow anything).
   */
  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
  ) {
    if (!(ratePerSecond >= 0) || !(burst >= 0)) {
      throw new RangeError(`TokenBucket: rate ${ratePerSecond} and burst ${burst} must be >= 0`);
    }
    this.tokens = burst;
  }

  /** Takes `count` tokens if there are that many; true when the message may be sent. */
  take(now: number, count = 1): boolean {
    this.refill(now);
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** The earliest time at which `count` tokens will be available (now when they already are). */
  nextAvailable(now: number, count = 1): number {
    this.refill(now);
    if (this.tokens >= count) return now;
    if (this.ratePerSecond === 0 || count > this.burst) return Infinity;
    return now + Math.ceil(((count - this.tokens) * 1000) / this.ratePerSecond);
  }

  private refill(now: number): void {
    if (this.last === undefined) {
      this.last = now;
      return;
    }
    const elapsed = now - this.last;
    if (elapsed <= 0) return;
    this.last = now;
    if (this.tokens >= this.burst) return;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
  }
}
