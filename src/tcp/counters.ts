/**
 * Named counters of one TCP connection: every drop and every recovery event has its own name,
 * so `stats$` can say why a transfer stalled. Plain mutable numbers (cheap to bump on the hot
 * path); the wiring sums them per stack.
 */

export interface TcpCounters {
  // Traffic
  segmentsReceived: number;
  segmentsSent: number;
  /** Segments of several MSS handed to a link that cuts them (TSO; each counts its pieces in segmentsSent). */
  largeSegmentsSent: number;
  /** In-order payload bytes accepted into the receive buffer. */
  bytesReceived: number;
  /** Payload bytes sent for the first time. */
  bytesSent: number;
  /** Payload bytes the peer acknowledged. */
  bytesAcked: number;

  // Loss recovery
  /** Segments sent again, for any reason (timeout, fast retransmit, partial ACK). */
  retransmits: number;
  retransmittedBytes: number;
  /** Retransmission timer expirations on data or FIN. */
  timeouts: number;
  /** SYN or SYN-ACK retransmissions. */
  synRetransmits: number;
  /** Fast retransmits on the third duplicate ACK (entries into fast recovery). */
  fastRetransmits: number;
  /** NewReno partial ACKs (each retransmits the next hole). */
  partialAcks: number;
  /** Fast recoveries completed by a full ACK. */
  recoveries: number;
  dupAcksReceived: number;
  /** HyStart++ saw the RTT rise and entered conservative slow start (RFC 9406). */
  hystartCssEntries: number;
  /** HyStart++ ended slow start without a loss (after its conservative rounds). */
  hystartExits: number;
  /** SACK-based fast recoveries entered (RFC 6675; also counted in fastRetransmits). */
  sackRecoveries: number;
  /** Segments resent as the SACK scoreboard chose (holes, rescue, holes after a timeout). */
  sackRetransmits: number;
  /** ACKs whose first SACK block was a D-SACK (RFC 2883): the peer got something twice. */
  dsacksReceived: number;
  /** Tail loss probes sent (RFC 8985 7). */
  tlpProbes: number;
  /** RACK loss detections that marked more data lost (RFC 8985 6). */
  rackLosses: number;
  /** Loss episodes undone because every retransmission was reported duplicate (D-SACK, RFC 3708). */
  spuriousUndos: number;
  /** Fast recovery went quiet for two round trips and the hole at SND.UNA was sent again before the RTO. */
  recoveryProbes: number;
  /** Timeouts found spurious by Eifel detection (RFC 3522: the ACK echoed a TSval older than the retransmission's) and undone. */
  spuriousRtoUndos: number;
  /** Timeouts found spurious by F-RTO (RFC 5682: data sent before the timeout and never resent was (S)ACKed after it) and undone. */
  frtoSpuriousRtos: number;
  /** Tail loss probes that resent data and repaired a loss (no D-SACK for them; RFC 8985 7.4): cwnd reduced then. */
  tlpLossesRepaired: number;
  /** Tail loss probes that resent data both copies of which arrived (a D-SACK or duplicate ACK for them): no reduction. */
  tlpSpuriousProbes: number;
  /** RTT samples taken when an ACK newly SACKed data never retransmitted and its cumulative ACK gave none (as Linux's tcp_sacktag). */
  sackRttSamples: number;

  // Receive side
  outOfOrderSegments: number;
  /** Out-of-order segments dropped because the reassembly queue was full. */
  outOfOrderDropped: number;
  /** Segments entirely duplicate (already received). */
  duplicateSegments: number;
  /** In-order segments ACKed at once in quick-ACK mode (after a filled hole or a duplicate), not delayed. */
  quickAcks: number;
  /** Retransmitted SYNs / SYN-ACKs of the peer seen after the handshake. */
  duplicateSyns: number;
  /** Segments dropped by PAWS (RFC 7323 5): their TSval was older than TS.Recent. */
  pawsDropped: number;
  /** ACKs we sent carrying SACK blocks (RFC 2018). */
  sackAcksSent: number;
  /** ACKs we sent reporting a duplicate segment with a D-SACK block (RFC 2883). */
  dsacksSent: number;
  /** Segments outside the receive window (dropped and answered with an ACK). */
  droppedNotAcceptable: number;
  /** Bytes cut off a segment because they lay beyond the receive window. */
  trimmedBytes: number;
  /** Segments without ACK in a synchronized state. */
  droppedNoAck: number;
  /** Segments acknowledging data never sent. */
  droppedAckUnsent: number;
  /** Segments with an ACK older than the send window allows (RFC 5961 5.2). */
  droppedOldAck: number;
  /** Unacceptable ACK during the handshake (answered with RST). */
  droppedBadAck: number;
  /** Data arriving after the peer's FIN. */
  droppedAfterFin: number;
  /** Segments handed to a CLOSED connection. */
  droppedClosed: number;
  /** Zero-window probes from the peer (data dropped, window re-announced). */
  zeroWindowProbesReceived: number;

  // Control
  rstReceived: number;
  /** RSTs with a sequence number outside the window (RFC 5961 3.2). */
  rstOutOfWindow: number;
  /** RSTs ignored in TIME-WAIT (RFC 1337). */
  rstIgnoredTimeWait: number;
  rstSent: number;
  /** ACKs sent in answer to a suspicious RST or SYN (RFC 5961). */
  challengeAcks: number;
  /**
   * ACKs owed to a suspicious RST or SYN, or to an ACK outside the send window (RFC 5961 5.2),
   * not sent because the stack's challenge-ACK budget was spent (RFC 5961 7).
   */
  challengeAcksSuppressed: number;
  /** TIME-WAIT connections ended early by a new SYN. */
  timeWaitReopens: number;

  // Path MTU and ICMP
  /** Send MSS changes from the path: ICMP "fragmentation needed", black-hole fallback, probes. */
  pmtuChanges: number;
  /** ICMP errors ignored: the quoted sequence number was not in flight (RFC 5927 4.1), or the state was not synchronized. */
  icmpIgnored: number;
  /** ICMP errors other than "fragmentation needed" recorded as the soft error. */
  icmpSoftErrors: number;
  /** Falls back to a smaller MSS after repeated timeouts of full-sized segments (RFC 4821 black hole). */
  pmtuBlackHoles: number;
  /** Larger MSS sizes tried after a fallback, and those that failed (timed out). */
  pmtuProbes: number;
  pmtuProbeFailures: number;

  // ECN (RFC 3168)
  /** Segments that arrived in a datagram marked Congestion Experienced. */
  ecnCeReceived: number;
  /** Window reductions in answer to the peer's ECE (at most one per round trip). */
  ecnReductions: number;

  // Flow control and timers
  /** Zero-window probes we sent (persist timer). */
  zeroWindowProbes: number;
  /** Window updates sent because the reader freed space. */
  windowUpdates: number;
  /** ACKs sent by the delayed-ACK timer. */
  delayedAcks: number;
  keepaliveProbes: number;
  /** Zero-length segments below RCV.NXT (keepalive probes) answered with an ACK. */
  keepaliveProbesAnswered: number;

  // Buffer auto-tuning
  /** The receive buffer (and the window) grew with the measured delivery per RTT. */
  receiveBufferGrown: number;
  /** The send buffer grew with the congestion window while the writer was held back. */
  sendBufferGrown: number;
  /** Buffer growths auto-tuning wanted but the stack's memory pressure refused (tcp.memorySoftLimit). */
  bufferGrowthRefused: number;
}

export function createTcpCounters(): TcpCounters {
  return {
    segmentsReceived: 0,
    segmentsSent: 0,
    largeSegmentsSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
    bytesAcked: 0,
    retransmits: 0,
    retransmittedBytes: 0,
    timeouts: 0,
    synRetransmits: 0,
    fastRetransmits: 0,
    partialAcks: 0,
    recoveries: 0,
    sackRecoveries: 0,
    sackRetransmits: 0,
    dsacksReceived: 0,
    tlpProbes: 0,
    rackLosses: 0,
    spuriousUndos: 0,
    recoveryProbes: 0,
    spuriousRtoUndos: 0,
    frtoSpuriousRtos: 0,
    tlpLossesRepaired: 0,
    tlpSpuriousProbes: 0,
    sackRttSamples: 0,
    dupAcksReceived: 0,
    hystartCssEntries: 0,
    hystartExits: 0,
    outOfOrderSegments: 0,
    outOfOrderDropped: 0,
    duplicateSegments: 0,
    quickAcks: 0,
    duplicateSyns: 0,
    pawsDropped: 0,
    sackAcksSent: 0,
    dsacksSent: 0,
    droppedNotAcceptable: 0,
    trimmedBytes: 0,
    droppedNoAck: 0,
    droppedAckUnsent: 0,
    droppedOldAck: 0,
    droppedBadAck: 0,
    droppedAfterFin: 0,
    droppedClosed: 0,
    zeroWindowProbesReceived: 0,
    rstReceived: 0,
    rstOutOfWindow: 0,
    rstIgnoredTimeWait: 0,
    rstSent: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    timeWaitReopens: 0,
    pmtuChanges: 0,
    icmpIgnored: 0,
    icmpSoftErrors: 0,
    pmtuBlackHoles: 0,
    pmtuProbes: 0,
    pmtuProbeFailures: 0,
    ecnCeReceived: 0,
    ecnReductions: 0,
    zeroWindowProbes: 0,
    windowUpdates: 0,
    delayedAcks: 0,
    keepaliveProbes: 0,
    keepaliveProbesAnswered: 0,
    receiveBufferGrown: 0,
    sendBufferGrown: 0,
    bufferGrowthRefused: 0,
  };
}

/**
 * Adds `from` into `into` (per-stack totals: runs when every connection ends). Written out field
 * by field: a loop over the names (`into[key] += from[key]`) makes every access a megamorphic
 * keyed lookup, about 5 us for 57 counters, as much as a short connection's handshake. A new
 * counter must be added here too (test/tcp/counters.test.ts checks that none is missing).
 */
export function addTcpCounters(into: TcpCounters, from: Readonly<TcpCounters>): void {
  into.segmentsReceived += from.segmentsReceived;
  into.segmentsSent += from.segmentsSent;
  into.largeSegmentsSent += from.largeSegmentsSent;
  into.bytesReceived += from.bytesReceived;
  into.bytesSent += from.bytesSent;
  into.bytesAcked += from.bytesAcked;
  into.retransmits += from.retransmits;
  into.retransmittedBytes += from.retransmittedBytes;
  into.timeouts += from.timeouts;
  into.synRetransmits += from.synRetransmits;
  into.fastRetransmits += from.fastRetransmits;
  into.partialAcks += from.partialAcks;
  into.recoveries += from.recoveries;
  into.sackRecoveries += from.sackRecoveries;
  into.sackRetransmits += from.sackRetransmits;
  into.dsacksReceived += from.dsacksReceived;
  into.tlpProbes += from.tlpProbes;
  into.rackLosses += from.rackLosses;
  into.spuriousUndos += from.spuriousUndos;
  into.recoveryProbes += from.recoveryProbes;
  into.spuriousRtoUndos += from.spuriousRtoUndos;
  into.frtoSpuriousRtos += from.frtoSpuriousRtos;
  into.tlpLossesRepaired += from.tlpLossesRepaired;
  into.tlpSpuriousProbes += from.tlpSpuriousProbes;
  into.sackRttSamples += from.sackRttSamples;
  into.dupAcksReceived += from.dupAcksReceived;
  into.hystartCssEntries += from.hystartCssEntries;
  into.hystartExits += from.hystartExits;
  into.outOfOrderSegments += from.outOfOrderSegments;
  into.outOfOrderDropped += from.outOfOrderDropped;
  into.duplicateSegments += from.duplicateSegments;
  into.quickAcks += from.quickAcks;
  into.duplicateSyns += from.duplicateSyns;
  into.pawsDropped += from.pawsDropped;
  into.sackAcksSent += from.sackAcksSent;
  into.dsacksSent += from.dsacksSent;
  into.droppedNotAcceptable += from.droppedNotAcceptable;
  into.trimmedBytes += from.trimmedBytes;
  into.droppedNoAck += from.droppedNoAck;
  into.droppedAckUnsent += from.droppedAckUnsent;
  into.droppedOldAck += from.droppedOldAck;
  into.droppedBadAck += from.droppedBadAck;
  into.droppedAfterFin += from.droppedAfterFin;
  into.droppedClosed += from.droppedClosed;
  into.zeroWindowProbesReceived += from.zeroWindowProbesReceived;
  into.rstReceived += from.rstReceived;
  into.rstOutOfWindow += from.rstOutOfWindow;
  into.rstIgnoredTimeWait += from.rstIgnoredTimeWait;
  into.rstSent += from.rstSent;
  into.challengeAcks += from.challengeAcks;
  into.challengeAcksSuppressed += from.challengeAcksSuppressed;
  into.timeWaitReopens += from.timeWaitReopens;
  into.pmtuChanges += from.pmtuChanges;
  into.icmpIgnored += from.icmpIgnored;
  into.icmpSoftErrors += from.icmpSoftErrors;
  into.pmtuBlackHoles += from.pmtuBlackHoles;
  into.pmtuProbes += from.pmtuProbes;
  into.pmtuProbeFailures += from.pmtuProbeFailures;
  into.ecnCeReceived += from.ecnCeReceived;
  into.ecnReductions += from.ecnReductions;
  into.zeroWindowProbes += from.zeroWindowProbes;
  into.windowUpdates += from.windowUpdates;
  into.delayedAcks += from.delayedAcks;
  into.keepaliveProbes += from.keepaliveProbes;
  into.keepaliveProbesAnswered += from.keepaliveProbesAnswered;
  into.receiveBufferGrown += from.receiveBufferGrown;
  into.sendBufferGrown += from.sendBufferGrown;
  into.bufferGrowthRefused += from.bufferGrowthRefused;
}
