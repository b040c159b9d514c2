/**
 * Checks every frame the fuzzed stack sends, as a middlebox on the wire would see it:
 *
 * - every IPv4 header parses and its checksum is right; every TCP segment (unfragmented) parses
 *   with src/wire, checksum included;
 * - flags make sense (never SYN with FIN or RST; no data on a RST; ACK on everything but a SYN
 *   and a RST answering a segment without ACK; MSS and window scale only on a SYN, scale <= 14);
 * - per connection (4-tuple, from A's SYN or SYN-ACK on; a new SYN starts a new incarnation):
 *   sequence numbers never jump past what was sent (seq <= SND.MAX, seq >= ISS), the ACK never
 *   goes back, and for the live connection the ACK never covers bytes the peer has not sent and
 *   the right edge of the advertised window never moves left (beyond the rounding of the scale);
 * - a RST or SYN-ACK sent in answer to the frame being injected follows RFC 9293 3.10.7.1 and
 *   3.10.7.2 (RST: seq = SEG.ACK, or seq 0 with ACK = SEG.SEQ + SEG.LEN; SYN-ACK acks SEG.SEQ+1).
 */
import { parseIpv4 } from '../src/wire/ipv4.js';
import { parseTcp, TcpFlags, type TcpRepr } from '../src/wire/tcp.js';
import { seqAdd, seqGeq, seqGt } from '../src/tcp/seq.js';
import { ETH } from './raw.js';

const { FIN, SYN, RST, ACK } = TcpFlags;

/** One direction of one incarnation of a connection. */
interface Flow {
  iss: number;
  /** Highest sequence number sent + 1 (SYN and FIN count). */
  sndMax: number;
  lastAck: number | undefined;
  /** Id of the stack's connection that sends this flow, once known (an id: the checker must not keep closed connections alive). */
  owner: number | undefined;
  /** Window scale this side applies to its window field (after the handshake), or -1 unknown. */
  scale: number;
  offeredScale: number | undefined;
  rightEdge: number | undefined;
}

/** A segment the stack is being fed, for checking the answers it triggers. */
export interface InjectedSegment {
  readonly src: number;
  readonly dst: number;
  readonly seg: TcpRepr;
}

const MAX_FLOWS = 20_000;

function segLen(s: TcpRepr): number {
  return s.payload.length + ((s.flags & SYN) !== 0 ? 1 : 0) + ((s.flags & FIN) !== 0 ? 1 : 0);
}

function key(src: number, sport: number, dst: number, dport: number): string {
  return `${src}:${sport}>${dst}:${dport}`;
}

export class EmittedTcpChecker {
  /** Flows of segments the stack sent. */
  readonly #out = new Map<string, Flow>();
  /** Flows of segments the live peer sent (only the live connection's tuple is tracked). */
  readonly #peer = new Map<string, Flow>();
  /** Whether a 4-tuple (as the peer sends it) is the live connection's. */
  #isLive: (k: string) => boolean = () => false;
  /** What is being injected right now (its answers are checked against it). */
  current: InjectedSegment | undefined;
  checked = 0;

  /**
   * @param connectionOf the stack's connection on a tuple (as the stack sends: local address and
   *   port first) and its ISS, undefined when it has none. A connection made from a SYN cookie
   *   has an ISS the checker may never have seen in a SYN-ACK (a later SYN-ACK on the tuple took
   *   its place), and the same cookie ACK sent again makes a new connection with the same ISS:
   *   the stack says which incarnation speaks.
   */
  constructor(
    private readonly fail: (invariant: string, message: string) => void,
    private readonly connectionOf: (src: number, srcPort: number, dst: number, dstPort: number) => { readonly iss: number; readonly id: number } | undefined = () => undefined,
  ) {}

  /** Tells the checker which tuple (`src:port>dst:port` from the peer's side) is the live one. */
  setLive(isLive: (peerKey: string) => boolean): void {
    this.#isLive = isLive;
  }

  /** A frame the live peer sent to the stack (tracks the peer's side of the live connection). */
  peerFrame(frame: Uint8Array): void {
    const p = this.#tcpOf(frame, false);
    if (p === undefined) return;
    const k = key(p.src, p.seg.srcPort, p.dst, p.seg.dstPort);
    if (!this.#isLive(k)) return;
    this.#advance(this.#peer, k, p.seg, false);
  }

  /** Whether the stack had a connection on the injected segment's tuple before it arrived. */
  #hadConnection = false;

  /**
   * Parses an injected frame as TCP when it is one (for the answer checks). `hasConnection`
   * says whether the stack has a connection for a tuple (src, srcPort, dst, dstPort) as the
   * segment names it.
   */
  injected(frame: Uint8Array, hasConnection: (src: number, srcPort: number, dst: number, dstPort: number) => boolean): void {
    const c = this.#tcpOf(frame, false);
    this.current = c;
    this.#hadConnection = c !== undefined && hasConnection(c.src, c.seg.srcPort, c.dst, c.seg.dstPort);
  }

  /**
   * A frame the stack put on the wire: headers and checksums as they are on the wire. (The
   * sequence rules are checked where IPv4 routes the packet, `routed`: a packet waiting for
   * ARP may never reach the wire, yet it moved the connection on.)
   */
  emitted(frame: Uint8Array): void {
    if (frame.length < ETH || frame[12] !== 0x08 || frame[13] !== 0x00) return;
    const ip = parseIpv4(frame.subarray(ETH));
    if (!ip.ok) {
      this.fail('emitted-ipv4', `the stack sent an IPv4 packet that does not parse (${ip.reason})`);
      return;
    }
    const h = ip.value;
    if (h.protocol !== 6 || h.moreFragments || h.fragmentOffset !== 0) return;
    const parsed = parseTcp(h.payload, h.src, h.dst);
    if (!parsed.ok) {
      this.fail('emitted-tcp', `the stack sent a TCP segment that does not parse (${parsed.reason})`);
      return;
    }
    this.checked++;
  }

  /** A TCP packet (IPv4 header and segment) as IPv4 routes it, before the next hop is resolved. */
  routed(packet: Uint8Array): void {
    const ip = parseIpv4(packet, { verifyChecksum: false });
    if (!ip.ok || ip.value.protocol !== 6 || ip.value.moreFragments || ip.value.fragmentOffset !== 0) return;
    const h = ip.value;
    // The transport checksum may still be partial here (the link finishes it): not checked.
    const parsed = parseTcp(h.payload, h.src, h.dst, { verifyChecksum: false });
    if (!parsed.ok) {
      this.fail('emitted-tcp', `the stack routed a TCP segment that does not parse (${parsed.reason})`);
      return;
    }
    this.#check(h.src, h.dst, parsed.value);
  }

  #tcpOf(frame: Uint8Array, verify: boolean): InjectedSegment | undefined {
    if (frame.length < ETH + 20 || frame[12] !== 0x08 || frame[13] !== 0x00) return undefined;
    const ip = parseIpv4(frame.subarray(ETH), { verifyChecksum: verify });
    if (!ip.ok || ip.value.protocol !== 6 || ip.value.moreFragments || ip.value.fragmentOffset !== 0) return undefined;
    const t = parseTcp(ip.value.payload, ip.value.src, ip.value.dst, { verifyChecksum: true });
    return t.ok ? { src: ip.value.src, dst: ip.value.dst, seg: t.value } : undefined;
  }

  #check(src: number, dst: number, s: TcpRepr): void {
    const f = s.flags;
    const where = `${key(src, s.srcPort, dst, s.dstPort)} flags=0x${f.toString(16)} seq=${s.seq} ack=${s.ack}`;
    if ((f & SYN) !== 0 && (f & (FIN | RST)) !== 0) this.fail('emitted-tcp-flags', `SYN with FIN or RST: ${where}`);
    if ((f & RST) !== 0 && s.payload.length > 0) this.fail('emitted-tcp-flags', `RST carrying data: ${where}`);
    if ((f & (SYN | RST)) === 0 && (f & ACK) === 0) this.fail('emitted-tcp-flags', `segment without ACK: ${where}`);
    if ((f & SYN) === 0 && (s.mss !== undefined || s.windowScale !== undefined || s.sackPermitted)) {
      this.fail('emitted-tcp-options', `SYN-only option on a non-SYN segment: ${where}`);
    }
    if (s.windowScale !== undefined && s.windowScale > 14) this.fail('emitted-tcp-options', `window scale ${s.windowScale} > 14: ${where}`);
    this.#checkAnswer(src, dst, s, where);
    const k = key(src, s.srcPort, dst, s.dstPort);
    // A RST does not end the flow: the connection may live on (a RST answering a bad ACK in
    // SYN-RECEIVED); a new connection on the tuple shows itself by a SYN with another ISS.
    if ((f & RST) !== 0) return;
    if ((f & SYN) === 0) {
      const conn = this.connectionOf(src, s.srcPort, dst, s.dstPort);
      const known = this.#out.get(k);
      if (conn !== undefined && known !== undefined && known.owner === undefined && known.iss === conn.iss) {
        known.owner = conn.id; // the connection its SYN-ACK started
      } else if (conn !== undefined && (known === undefined || known.owner !== conn.id)) {
        // An incarnation the checker did not see start (a SYN-cookie connection, or one whose
        // flow it forgot): from this segment on, which it takes as the highest sent so far.
        if (this.#out.size >= MAX_FLOWS) this.#out.delete(this.#out.keys().next().value as string);
        const sndMax = seqGt(s.seq, seqAdd(conn.iss, 1)) ? s.seq : seqAdd(conn.iss, 1);
        this.#out.set(k, { iss: conn.iss, sndMax, lastAck: undefined, owner: conn.id, scale: -1, offeredScale: undefined, rightEdge: undefined });
      }
    }
    this.#advance(this.#out, k, s, true);
    const flow = this.#out.get(k);
    if (flow === undefined) return;
    // The live connection: the ACK covers only what the peer sent, the window edge holds.
    const back = key(dst, s.dstPort, src, s.srcPort);
    const peer = this.#peer.get(back);
    if (peer !== undefined && (f & ACK) !== 0) {
      if (seqGt(s.ack, peer.sndMax)) this.fail('emitted-tcp-ack', `ACK ${s.ack} beyond what the peer sent (${peer.sndMax}): ${where}`);
      if (flow.scale < 0) flow.scale = peer.offeredScale !== undefined && flow.offeredScale !== undefined ? Math.min(flow.offeredScale, 14) : 0;
      if ((f & SYN) === 0) {
        const edge = seqAdd(s.ack, s.window << flow.scale);
        if (flow.rightEdge !== undefined && seqGt(seqAdd(flow.rightEdge, -(1 << flow.scale)), edge)) {
          this.fail('emitted-tcp-window', `right window edge moved left from ${flow.rightEdge} to ${edge}: ${where}`);
        }
        if (flow.rightEdge === undefined || seqGt(edge, flow.rightEdge)) flow.rightEdge = edge;
      }
    }
  }

  /** Checks a segment against the direction's history and advances it (stack side: `strict`). */
  #advance(flows: Map<string, Flow>, k: string, s: TcpRepr, strict: boolean): void {
    const f = s.flags;
    let flow = flows.get(k);
    if ((f & SYN) !== 0) {
      if (flow === undefined || flow.iss !== s.seq) {
        if (flows.size >= MAX_FLOWS) flows.delete(flows.keys().next().value as string);
        flow = { iss: s.seq, sndMax: seqAdd(s.seq, 1), lastAck: undefined, owner: undefined, scale: -1, offeredScale: s.windowScale, rightEdge: undefined };
        flows.set(k, flow);
      }
      if ((f & ACK) !== 0) flow.lastAck = s.ack;
      return;
    }
    if (flow === undefined) return;
    // Least recently used first in the map: a busy flow is never the one forgotten.
    flows.delete(k);
    flows.set(k, flow);
    const where = `${k} flags=0x${f.toString(16)} seq=${s.seq} ack=${s.ack} (ISS ${flow.iss}, SND.MAX ${flow.sndMax})`;
    if (strict) {
      if (!seqGeq(s.seq, flow.iss) || seqGt(s.seq, flow.sndMax)) this.fail('emitted-tcp-seq', `sequence number outside [ISS, SND.MAX]: ${where}`);
      if ((f & ACK) !== 0 && flow.lastAck !== undefined && seqGt(flow.lastAck, s.ack)) {
        this.fail('emitted-tcp-ack', `ACK went back from ${flow.lastAck}: ${where}`);
      }
    }
    if ((f & ACK) !== 0 && (flow.lastAck === undefined || seqGt(s.ack, flow.lastAck))) flow.lastAck = s.ack;
    const end = seqAdd(s.seq, segLen(s));
    if (seqGt(end, flow.sndMax)) flow.sndMax = end;
  }

  /** The stack's flow for a tuple (tests and the live-connection setup). */
  flow(stackKey: string): Readonly<Flow> | undefined {
    return this.#out.get(stackKey);
  }

  #checkAnswer(src: number, dst: number, s: TcpRepr, where: string): void {
    const c = this.current;
    if (c === undefined || c.src !== dst || c.dst !== src || c.seg.srcPort !== s.dstPort || c.seg.dstPort !== s.srcPort) return;
    const seg = c.seg;
    const f = s.flags;
    if ((f & RST) !== 0 && (f & SYN) === 0 && (seg.flags & RST) === 0) {
      // The answers of RFC 9293 3.10.7.1 (CLOSED) and 3.10.7.2 (LISTEN), when the segment had
      // no connection. A RST from a connection uses SND.NXT instead: only check the form that
      // the segment's flags impose when the RST carries no ACK.
      if ((seg.flags & ACK) !== 0) {
        if ((f & ACK) === 0 && s.seq !== seg.ack) this.fail('emitted-tcp-rst', `RST answering an ACK must have seq = SEG.ACK ${seg.ack}: ${where}`);
      } else if ((f & ACK) !== 0 && s.seq === 0 && s.ack !== seqAdd(seg.seq, segLen(seg))) {
        this.fail('emitted-tcp-rst', `RST answering a segment without ACK must ack SEG.SEQ+SEG.LEN ${seqAdd(seg.seq, segLen(seg))}: ${where}`);
      }
    }
    // A SYN-ACK answering a SYN for a tuple without a connection acks that SYN. (A half-open
    // connection meeting another SYN may send its own SYN-ACK again, acking the first one.)
    const fresh = !this.#hadConnection;
    if (fresh && (f & SYN) !== 0 && (f & ACK) !== 0 && (seg.flags & (SYN | ACK | RST)) === SYN && s.ack !== seqAdd(seg.seq, 1)) {
      this.fail('emitted-tcp-synack', `SYN-ACK must ack SEG.SEQ+1 ${seqAdd(seg.seq, 1)}: ${where}`);
    }
  }
}
