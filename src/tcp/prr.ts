/**
 * Proportional Rate Reduction (RFC 6937): how many bytes fast recovery may send on each ACK.
 *
 * Instead of halting until half the flight has drained and then bursting (RFC 6675's
 * cwnd - pipe), PRR spreads the reduction over the recovery round trip: while pipe is above
 * ssthresh it sends ssthresh/RecoverFS bytes per byte delivered; once pipe has fallen below
 * ssthresh (more losses than the reduction), slow-start reduction bound (PRR-SSRB) lets it climb
 * back to ssthresh by at most one MSS more than was delivered per ACK.
 */

export class Prr {
  /** RecoverFS: the flight when recovery began. */
  recoverFs = 0;
  /** prr_delivered: bytes the peer got (ACKed or SACKed) since recovery began. */
  delivered = 0;
  /** prr_out: bytes sent since recovery began. */
  out = 0;
  /** sndcnt of the last ACK, less what has been sent since: bytes that may go out now. */
  budget = 0;

  start(flight: number): void {
    this.recoverFs = Math.max(flight, 1);
    this.delivered = 0;
    this.out = 0;
    this.budget = 0;
  }

  /**
   * One ACK in recovery: `deliveredData` = change in SND.UNA + change in SACKed bytes. Sets and
   * returns the budget (RFC 6937 3.1, with PRR-SSRB).
   */
  onAck(deliveredData: number, pipe: number, ssthresh: number, mss: number): number {
    this.delivered += deliveredData;
    let sndcnt: number;
    if (pipe > ssthresh) {
      sndcnt = Math.ceil((this.delivered * ssthresh) / this.recoverFs) - this.out;
    } else {
      const limit = Math.max(this.delivered - this.out, deliveredData) + mss;
      sndcnt = Math.min(ssthresh - pipe, limit);
    }
    this.budget = Math.max(sndcnt, 0);
    return this.budget;
  }

  /** `bytes` went out during recovery. */
  onSend(bytes: number): void {
    this.out += bytes;
    this.budget = Math.max(this.budget - bytes, 0);
  }
}
