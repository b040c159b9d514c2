/**
 * Buffer auto-tuning: how big a connection's receive and send buffers should be for the path
 * it runs on, so that a fast, long path is not held to the window of a small initial buffer,
 * while a connection whose reader (or path) is slow keeps a small one.
 *
 * Receive side: dynamic right-sizing (DRS, the idea of Linux's tcp_rcv_space_adjust). The
 * receiver measures the round-trip time on its own (it may send no data to time): from the
 * timestamp echo of arriving data when timestamps are in use, else from how long a window's
 * worth of data takes to arrive. Once per such RTT it compares the bytes the user read in that
 * RTT with the amount that last raised the buffer; when more were read, the sender was held
 * back by the window and the buffer rises to twice that delivery (the next RTT's data plus the
 * unread data of this one), plus room for 16 segments held out of order and for the sender
 * still doubling its rate in slow start. The buffer never shrinks, so the advertised window's
 * right edge never has to move left.
 *
 * Send side: the idea of Linux's tcp_sndbuf_expand. While the writer is held back by a full
 * buffer and the buffer is what limits sending (not cwnd, not the peer's window), it is
 * raised to twice the congestion window (what is in flight, plus as much again to send in the
 * next round trip, when slow start may double the window), never below twice the initial
 * window; the connection grows it in steps of at least a quarter.
 *
 * Pure arithmetic on numbers the connection passes in; no allocation after construction.
 */

/** Out-of-order room added to every receive-buffer target, in segments (as Linux). */
const REORDER_ROOM_SEGMENTS = 16;
/** Segments assumed delivered per RTT before the first measure (RFC 6928's initial window). */
const INITIAL_SPACE_SEGMENTS = 10;

/** Receive-side dynamic right-sizing of one connection. */
export class ReceiveBufferTuner {
  /** The receiver's RTT estimate, ms; 0 until the first sample. */
  rttMs = 0;
  /**
   * Bytes read in one RTT that last raised the buffer (Linux's rcvq_space.space): the buffer
   * grows again only when a later RTT delivers more.
   */
  space: number;
  /** Start of the current measure (ms) and the bytes read by then; -1 before the first data. */
  private measureAt = -1;
  private measureRead = 0;
  /** Window-based RTT: the stream position that ends the timed window, and when it began. */
  private windowEnd = -1;
  private windowAt = 0;
  /** The last timestamp echo sampled: one sample per distinct echo. */
  private lastEcr = -1;

  /**
   * @param mss the largest segment we expect (our MSS): the unit of the out-of-order room.
   * @param initialBuffer the receive buffer at the start (the first window).
   */
  constructor(
    private readonly mss: number,
    initialBuffer: number,
  ) {
    this.space = Math.min(initialBuffer, INITIAL_SPACE_SEGMENTS * mss);
  }

  /**
   * In-order data arrived; `read`: bytes the user has read so far. The first data starts the
   * first measure of the reader's rate.
   */
  onData(read: number, now: number): void {
    if (this.measureAt < 0) {
      this.measureAt = now;
      this.measureRead = read;
    }
  }

  /**
   * In-order data arrived, without timestamps: `end` is the stream position after it (bytes
   * received in order so far), `window` the window we last advertised, bytes. Times a window's
   * worth of data (the idea of Linux tcp_rcv_rtt_measure): a measure starts with the right edge
   * of the window advertised so far; the first data beyond that edge ends it. The time taken is
   * at least an RTT (the peer could send beyond the edge only after an ACK we sent later reached
   * it) and about one when the peer is window-limited, so the estimate keeps the smallest sample.
   */
  onWindowData(end: number, window: number, now: number): void {
    if (end <= this.windowEnd) return;
    if (this.windowEnd >= 0) {
      const sample = now - this.windowAt;
      if (sample > 0 && (this.rttMs === 0 || sample < this.rttMs)) this.rttMs = sample;
    }
    this.windowEnd = end + window;
    this.windowAt = now;
  }

  /**
   * A full-sized segment of in-order data echoed `tsEcr`, which measures `sampleMs` (RFC 7323:
   * the time since we sent the ACK that let the peer send it; Linux tcp_rcv_rtt_measure_ts).
   * Each echo is used once (a burst answering one ACK carries the same echo); samples are
   * smoothed with gain 1/8, as RFC 6298 smooths SRTT.
   */
  onTimestampSample(tsEcr: number, sampleMs: number): void {
    if (tsEcr === this.lastEcr || sampleMs <= 0) return;
    this.lastEcr = tsEcr;
    this.rttMs = this.rttMs === 0 ? sampleMs : this.rttMs + (sampleMs - this.rttMs) / 8;
  }

  /**
   * The user has read `read` bytes in all (call after reading). Once an RTT has passed since
   * the last measure, returns the receive buffer the reader's rate calls for when it exceeds
   * what the last growth was for (capped by nothing: the caller applies its cap), else 0.
   */
  onRead(read: number, now: number): number {
    const rtt = this.rttMs;
    if (rtt === 0 || this.measureAt < 0 || now - this.measureAt < rtt) return 0;
    const copied = read - this.measureRead;
    this.measureAt = now;
    this.measureRead = read;
    if (copied <= this.space) return 0;
    let target = 2 * copied + REORDER_ROOM_SEGMENTS * this.mss;
    // Delivery grew by this fraction in one RTT: in slow start it will grow as much again
    // before the next measure (at most doubling, the fastest slow start goes).
    const growth = Math.min(1, (copied - this.space) / this.space);
    target += Math.floor(2 * target * growth);
    this.space = copied;
    return target;
  }
}

/**
 * The send buffer a connection held back by a full buffer should have (Linux
 * tcp_sndbuf_expand): twice the congestion window, or twice the initial window if more.
 */
export function sendBufferTarget(cwnd: number, mss: number, initialCwndSegments: number): number {
  const initial = initialCwndSegments * mss;
  return 2 * (cwnd > initial ? cwnd : initial);
}

/**
 * Bytes the path delivers in one minimum RTT (its bandwidth-delay product, measured): the
 * cumulative ACK's progress over windows of at least a minimum RTT, the largest of the last two
 * windows. A send buffer need not hold more than a few of these: beyond that, data only queues
 * (in the peer's receive queue when its reader is slower than the path), and a larger buffer
 * then buys nothing but memory touched per byte. cwnd alone cannot tell: without loss it grows
 * without bound while the peer's window allows.
 */
export class DeliveryMeter {
  /** Bytes per minimum RTT, 0 until a window has been measured. */
  bdp = 0;
  private windowAt = -1;
  private windowAcked = 0;
  private last = 0;

  /** `acked`: bytes acknowledged in all; `minRtt`: ms (Infinity without a sample). */
  onAck(acked: number, now: number, minRtt: number): void {
    if (!(minRtt < Number.POSITIVE_INFINITY)) return;
    if (this.windowAt < 0) {
      this.windowAt = now;
      this.windowAcked = acked;
      return;
    }
    const span = now - this.windowAt;
    // At least one minimum RTT, and at least 1 ms so a coarse clock still measures a rate.
    if (span < minRtt || span < 1) return;
    const perRtt = ((acked - this.windowAcked) * minRtt) / span;
    this.bdp = perRtt > this.last ? perRtt : this.last;
    this.last = perRtt;
    this.windowAt = now;
    this.windowAcked = acked;
  }
}

/**
 * The send buffer to grow to: Linux's 2 x cwnd (sendBufferTarget), but no more than
 * DELIVERY_BUFFER_RTTS x the measured BDP (DeliveryMeter) plus the initial window once a BDP has
 * been measured: enough to keep the path full through a loss and a slow start round.
 */
export const DELIVERY_BUFFER_RTTS = 4;

export function sendBufferTargetFor(cwnd: number, mss: number, initialCwndSegments: number, bdp: number): number {
  const byCwnd = sendBufferTarget(cwnd, mss, initialCwndSegments);
  if (bdp <= 0) return byCwnd;
  // Whole bytes: a buffer's capacity is a byte count (a fraction would leak into every length).
  const byPath = Math.floor(DELIVERY_BUFFER_RTTS * bdp) + initialCwndSegments * mss;
  return byPath < byCwnd ? byPath : byCwnd;
}
