/**
 * Explicit Congestion Notification for one TCP connection (RFC 3168 6.1): the negotiation
 * flags, the receiver's echo (ECE until CWR) and the sender's once-per-round-trip reaction.
 * Pure bookkeeping; the connection sets the flags on its segments and asks its congestion
 * control to reduce the window.
 */

import { TcpFlags } from '../wire/tcp.js';
import { seqGt } from './seq.js';

const { ECE, CWR } = TcpFlags;

/** An ECN-setup SYN carries both ECE and CWR (RFC 3168 6.1.1). */
export function isEcnSetupSyn(flags: number): boolean {
  return (flags & (ECE | CWR)) === (ECE | CWR);
}

/** An ECN-setup SYN-ACK carries ECE and not CWR (a SYN-ACK with both is a broken reflector). */
export function isEcnSetupSynAck(flags: number): boolean {
  return (flags & (ECE | CWR)) === ECE;
}

/** The IPv4 ECN field (RFC 3168 5). */
export const IpEcn = {
  NOT_ECT: 0,
  ECT1: 1,
  ECT0: 2,
  CE: 3,
} as const;

export class EcnState {
  /** Both ends agreed to ECN in the handshake. */
  active = false;
  /** Receiver: a CE mark arrived; every ACK carries ECE until the peer's CWR. */
  echo = false;
  /** Sender: the window was reduced; the next new data segment carries CWR. */
  cwrPending = false;
  /** Sender: no new reduction until an ACK beyond this (SND.MAX at the last reduction). */
  private recover = 0;

  /** A datagram with CE arrived. Returns true when the echo starts now (ACK at once). */
  onCongestionExperienced(): boolean {
    if (!this.active || this.echo) return false;
    this.echo = true;
    return true;
  }

  /**
   * A segment with ECE and/or CWR in `flags`, acknowledging `ack`. CWR ends our echo; returns
   * true when ECE asks for a window reduction: the first ECE acknowledging data sent after the
   * previous reduction (once per round trip, RFC 3168 6.1.2).
   */
  onPeerFlags(flags: number, ack: number): boolean {
    if (!this.active) return false;
    if ((flags & CWR) !== 0) this.echo = false;
    return (flags & ECE) !== 0 && seqGt(ack, this.recover);
  }

  /** The window was reduced with `sndMax` the highest sequence number sent. */
  reduced(sndMax: number): void {
    this.recover = sndMax;
    this.cwrPending = true;
  }

  /** Starts the once-per-round-trip bookkeeping at the first sequence number of the connection. */
  start(iss: number): void {
    this.recover = iss;
  }
}
