/**
 * The frame grammar: Ethernet / ARP / IPv4 / ICMP / UDP / TCP, produced three ways.
 *
 * - valid: every field drawn from a range that matters (our ports and others, flags, option
 *   sets, IPv4 options, broadcast and multicast addresses, ICMP errors quoting our datagrams);
 * - nearly valid: a valid frame with one thing wrong (a checksum, a length, the version, the
 *   header length, the data offset);
 * - mutated: a frame of the seed corpus (real traffic) with bit flips, truncation, junk
 *   appended, field edits, an option soup in its TCP header, with the checksums fixed half of the
 *   time so the damage is met past the checksum checks;
 * - fragment storms: bursts of overlapping, duplicate, out-of-order, tiny and oversized
 *   fragments, sometimes completing a datagram.
 *
 * Every frame is addressed to the fuzzed stack A (or to broadcast, multicast, someone else) and
 * never comes from B's address: see addresses.ts.
 */
import type { Random } from '../src/random.js';
import { arpFrame, ethernetFrame, icmpEchoFrame, ipv4Frame, tcpFrame, udpFrame, type EthernetFields, type Ipv4Fields } from '../streams/testing/frames.js';
import { seedCorpus } from './corpus.js';
import { fixChecksums, isIpv4, ETH, readU16, writeU16, writeU32, readU32 } from './raw.js';
import { A_IP_NUM, A_MAC, B_IP_NUM, C_MAC, LIVE_TCP_PORT, TCP_DISCARD_PORT, TCP_ECHO_PORT, UDP_ECHO_PORT } from './addresses.js';

/** What one generator step produced: one frame, or a burst (a fragment storm). */
export interface Generated {
  readonly kind: GeneratedKind;
  readonly frames: Uint8Array[];
}

export type GeneratedKind = 'arp' | 'icmp' | 'udp' | 'tcp' | 'tcp-session' | 'ipv4' | 'ethernet' | 'nearly-valid' | 'mutated' | 'fragment-storm';

/** A SYN-ACK the fuzzed stack sent to a stranger: what it takes to complete that handshake. */
export interface SynAckSeen {
  readonly local: number;
  readonly localPort: number;
  readonly remote: number;
  readonly remotePort: number;
  /** The stack's ISS. */
  readonly iss: number;
  /** What it acked: the stranger's ISN + 1. */
  readonly ack: number;
  /** Its TSval, when it sent timestamps (echoed as TSecr). */
  readonly tsVal: number | undefined;
}

/** Strangers that announce themselves by ARP (so the stack can answer them): 198.18.0.3..10. */
const RESOLVABLE = 8;

const SUBNET = 0xc6120000; // 198.18.0.0/24

/** Weights of the kinds, in the order of `KINDS`. */
const KINDS: readonly GeneratedKind[] = ['arp', 'icmp', 'udp', 'tcp', 'tcp-session', 'ipv4', 'ethernet', 'nearly-valid', 'mutated', 'fragment-storm'];
// Storms (up to 64 frames) and TCP sessions (up to 9) are bursts: their weight is per burst.
const WEIGHTS = [60, 80, 100, 180, 40, 60, 30, 120, 280, 5];
const TOTAL_WEIGHT = WEIGHTS.reduce((a, b) => a + b, 0);

export class FrameGrammar {
  readonly #rng: Random;
  readonly #corpus = seedCorpus();
  readonly #synAcks: () => readonly SynAckSeen[];
  #ident = 1;

  /**
   * @param synAcks the SYN-ACKs the fuzzed stack sent lately (most recent last): the TCP
   *   sessions complete those handshakes and go on inside the connections.
   */
  constructor(rng: Random, synAcks: () => readonly SynAckSeen[] = () => []) {
    this.#rng = rng;
    this.#synAcks = synAcks;
  }

  /** One step of the grammar. */
  next(): Generated {
    let r = this.#rng.below(TOTAL_WEIGHT);
    let i = 0;
    while (r >= WEIGHTS[i]) r -= WEIGHTS[i++];
    const kind = KINDS[i];
    const frames = this.#make(kind);
    for (const f of frames) protectLivePeer(f);
    return { kind, frames };
  }

  #make(kind: GeneratedKind): Uint8Array[] {
    switch (kind) {
      case 'arp': return [this.arp()];
      case 'icmp': return [this.icmp()];
      case 'udp': return [this.udp()];
      case 'tcp': return [this.tcp()];
      case 'tcp-session': return this.tcpSession();
      case 'ipv4': return [this.ipv4()];
      case 'ethernet': return [this.ethernet()];
      case 'nearly-valid': return [this.nearlyValid()];
      case 'mutated': return [this.mutated()];
      case 'fragment-storm': return this.fragmentStorm();
    }
  }

  // --- pieces -------------------------------------------------------------------------------

  #pick<T>(items: readonly T[]): T {
    return items[this.#rng.below(items.length)];
  }

  #chance(p: number): boolean {
    return this.#rng.next() < p;
  }

  #bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.#rng.below(256);
    return b;
  }

  /** A source address: a stranger on the subnet mostly, sometimes off-link or odd. */
  #srcIp(): number {
    const r = this.#rng.next();
    if (r < 0.3) return this.#resolvable();
    if (r < 0.75) return (SUBNET | (3 + this.#rng.below(250))) >>> 0;
    if (r < 0.85) return this.#rng.uint32();
    return this.#pick([0, A_IP_NUM, 0xc61200ff, 0xffffffff, 0xe0000001, 0x7f000001]);
  }

  #resolvable(): number {
    return (SUBNET | (3 + this.#rng.below(RESOLVABLE))) >>> 0;
  }

  #dstIp(): number {
    const r = this.#rng.next();
    if (r < 0.85) return A_IP_NUM;
    return this.#pick([0xffffffff, 0xc61200ff, 0xe0000001, 0xe00000fb, (SUBNET | 77) >>> 0, this.#rng.uint32()]);
  }

  #srcMac(): string {
    return this.#chance(0.9) ? `02:00:00:00:${(this.#rng.below(200) + 16).toString(16).padStart(2, '0')}:03` : this.#pick([C_MAC, 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01']);
  }

  #eth(dstIp: number): EthernetFields {
    let dst: string;
    if (dstIp === 0xffffffff || dstIp === 0xc61200ff) dst = 'ff:ff:ff:ff:ff:ff';
    else if (dstIp >>> 28 === 0xe) dst = '01:00:5e:00:00:01';
    else dst = this.#chance(0.97) ? A_MAC : this.#pick(['ff:ff:ff:ff:ff:ff', '02:00:00:00:00:99', '01:00:5e:00:00:fb']);
    return { src: this.#srcMac(), dst };
  }

  #ip(src: number, dst: number): Ipv4Fields {
    const rng = this.#rng;
    return {
      src, dst,
      ttl: this.#chance(0.03) ? 0 : 1 + rng.below(255),
      ident: rng.below(0x10000),
      dontFragment: this.#chance(0.5),
      dscp: this.#chance(0.1) ? rng.below(64) : 0,
      ecn: this.#chance(0.1) ? rng.below(4) : 0,
      options: this.#chance(0.05) ? this.#ipOptions() : undefined,
    };
  }

  #ipOptions(): Uint8Array {
    // Real kinds (NOP, EOL, record route, timestamp, router alert) and garbage, up to 40 bytes.
    const n = 1 + this.#rng.below(40);
    const o = this.#bytes(n);
    if (this.#chance(0.5)) o[0] = this.#pick([0, 1, 7, 68, 148, 130, 131, 137]);
    return o;
  }

  #port(ours: readonly number[]): number {
    const r = this.#rng.next();
    if (r < 0.6) return this.#pick(ours);
    if (r < 0.8) return 1 + this.#rng.below(1024);
    return this.#rng.below(0x10000);
  }

  #payload(max: number): Uint8Array {
    const r = this.#rng.next();
    const n = r < 0.4 ? 0 : r < 0.8 ? this.#rng.below(64) : this.#rng.below(max + 1);
    return this.#bytes(n);
  }

  // --- valid frames -------------------------------------------------------------------------

  arp(): Uint8Array {
    const rng = this.#rng;
    const resolvable = this.#chance(0.5);
    const senderIp = resolvable ? this.#resolvable() : this.#chance(0.9) ? (SUBNET | (3 + rng.below(250))) >>> 0 : this.#srcIp();
    const targetIp = this.#chance(0.7) ? A_IP_NUM : this.#chance(0.5) ? senderIp : this.#srcIp();
    const senderMac = resolvable ? strangerMac(senderIp) : this.#srcMac();
    const op = this.#chance(0.9) ? this.#pick(['request', 'reply'] as const) : rng.below(0x10000);
    return arpFrame({
      op, senderMac, senderIp, targetIp,
      targetMac: this.#chance(0.5) ? A_MAC : undefined,
      eth: this.#chance(0.8) ? undefined : { src: senderMac, dst: this.#pick(['ff:ff:ff:ff:ff:ff', A_MAC, '02:00:00:00:00:42']) },
    });
  }

  icmp(): Uint8Array {
    const src = this.#srcIp();
    const dst = this.#dstIp();
    const rng = this.#rng;
    if (this.#chance(0.5)) {
      return icmpEchoFrame({
        eth: this.#eth(dst), ip: this.#ip(src, dst), kind: this.#chance(0.8) ? 'request' : 'reply',
        ident: rng.below(0x10000), seq: rng.below(0x10000), data: this.#payload(1400),
      });
    }
    // An error quoting a datagram A might have sent (TCP or UDP, from one of A's ports).
    const type = this.#pick([3, 3, 3, 11, 12, 4, 5, 13, 17, rng.below(256)]);
    const code = this.#pick([0, 1, 2, 3, 4, 13, rng.below(256)]);
    const protocol = this.#pick([6, 17, 1, rng.below(256)]);
    const quote = new Uint8Array(20 + (this.#chance(0.7) ? 8 : rng.below(40)));
    quote[0] = this.#chance(0.9) ? 0x45 : rng.below(256);
    writeU16(quote, 2, 20 + 8 + rng.below(1500));
    quote[8] = 64;
    quote[9] = protocol;
    writeU32(quote, 12, this.#chance(0.8) ? A_IP_NUM : rng.uint32());
    writeU32(quote, 16, src);
    if (quote.length >= 28) {
      writeU16(quote, 20, this.#port([TCP_ECHO_PORT, UDP_ECHO_PORT, TCP_DISCARD_PORT, 40000 + rng.below(25000)]));
      writeU16(quote, 22, this.#port([TCP_ECHO_PORT, 40000 + rng.below(25000)]));
      writeU32(quote, 24, rng.uint32());
    }
    const msg = new Uint8Array(8 + quote.length);
    msg[0] = type;
    msg[1] = code;
    if (type === 3 && code === 4) writeU16(msg, 6, this.#pick([0, 68, 296, 576, 1006, 1280, 1492, 1500, 9000, rng.below(0x10000)]));
    else if (type === 12) msg[4] = rng.below(60);
    msg.set(quote, 8);
    const frame = ipv4Frame({ eth: this.#eth(dst), ip: this.#ip(src, dst), protocol: 1, payload: msg });
    fixChecksums(frame);
    return frame;
  }

  udp(): Uint8Array {
    const src = this.#srcIp();
    const dst = this.#dstIp();
    const rng = this.#rng;
    const frame = udpFrame({
      eth: this.#eth(dst), ip: this.#ip(src, dst),
      udp: { srcPort: rng.below(0x10000), dstPort: this.#port([UDP_ECHO_PORT, 9, 53, 67, 137]) },
      payload: this.#payload(1400),
    });
    if (this.#chance(0.1)) writeU16(frame, ETH + (frame[ETH] & 15) * 4 + 6, 0); // no checksum (allowed)
    return frame;
  }

  tcp(): Uint8Array {
    const src = this.#srcIp();
    const dst = this.#dstIp();
    const rng = this.#rng;
    const flags = this.#chance(0.7)
      ? this.#pick([0x02, 0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x19, 0x01, 0x20, 0x30, 0x42, 0xc2])
      : rng.below(256);
    const opts = this.#chance(0.6);
    const frame = tcpFrame({
      eth: this.#eth(dst), ip: this.#ip(src, dst),
      tcp: {
        srcPort: this.#chance(0.5) ? 40000 + rng.below(64) : rng.below(0x10000),
        dstPort: this.#port([TCP_ECHO_PORT, TCP_DISCARD_PORT, TCP_ECHO_PORT, LIVE_TCP_PORT]),
        seq: this.#chance(0.5) ? rng.below(8) * 0x40000000 + rng.below(64) : rng.uint32(),
        ack: rng.uint32(),
        flags,
        window: this.#chance(0.1) ? 0 : rng.below(0x10000),
        urgent: this.#chance(0.1) ? rng.below(0x10000) : 0,
        mss: opts && this.#chance(0.7) ? this.#pick([0, 1, 64, 536, 1460, 9000, 65535]) : undefined,
        windowScale: opts && this.#chance(0.5) ? rng.below(20) : undefined,
        sackPermitted: opts && this.#chance(0.5),
        timestamp: opts && this.#chance(0.5) ? { tsVal: rng.uint32(), tsEcr: this.#chance(0.5) ? 0 : rng.uint32() } : undefined,
        sackBlocks: opts && (flags & 0x10) !== 0 && this.#chance(0.2) ? [[rng.uint32(), rng.uint32()]] : undefined,
      },
      payload: this.#payload(1400),
    });
    if (this.#chance(0.2)) this.#optionSoup(frame);
    return frame;
  }

  ipv4(): Uint8Array {
    const src = this.#srcIp();
    const dst = this.#dstIp();
    const protocol = this.#pick([0, 2, 4, 41, 47, 50, 89, 132, 255, this.#rng.below(256)]);
    return ipv4Frame({ eth: this.#eth(dst), ip: this.#ip(src, dst), protocol, payload: this.#payload(600) });
  }

  ethernet(): Uint8Array {
    const ethertype = this.#pick([0x86dd, 0x8100, 0x88cc, 0x0842, 0x0000, 0x05dc, 0xffff, this.#rng.below(0x10000)]);
    const eth = { src: this.#srcMac(), dst: this.#pick([A_MAC, 'ff:ff:ff:ff:ff:ff', '33:33:00:00:00:01']) };
    return ethernetFrame({ eth, ethertype, payload: this.#payload(200) });
  }

  /**
   * A burst inside a connection the stack opened: the ACK that completes a handshake it started
   * (from a SYN-ACK it sent lately), then segments in and around the window: data in order, out
   * of order, overlapping, beyond the window; FIN; RST and SYN in and out of the window; ACKs of
   * data it sent, old and from the future; zero windows, SACK blocks, timestamps going back.
   */
  tcpSession(): Uint8Array[] {
    const seen = this.#synAcks();
    if (seen.length === 0) return [this.tcp()];
    const rng = this.#rng;
    // The latest SYN-ACKs mostly (those handshakes are still open).
    const h = seen[Math.max(0, seen.length - 1 - rng.below(Math.min(seen.length, 4)))];
    const eth = { src: strangerMac(h.remote), dst: A_MAC };
    const ip = (): Ipv4Fields => ({ src: h.remote, dst: h.local, ident: rng.below(0x10000), dontFragment: true, ecn: this.#chance(0.05) ? 3 : 0 });
    const ackBase = (h.iss + 1) >>> 0;
    let seq = h.ack;
    let tsVal = 1000 + rng.below(1000);
    const frames: Uint8Array[] = [];
    const segment = (fields: { seq: number; ack: number; flags: number; payload?: Uint8Array; window?: number; sack?: Array<[number, number]> }) => {
      tsVal += rng.below(3);
      frames.push(tcpFrame({
        eth, ip: ip(),
        tcp: {
          srcPort: h.remotePort, dstPort: h.localPort, seq: fields.seq >>> 0, ack: fields.ack >>> 0, flags: fields.flags,
          window: fields.window ?? 8192 + rng.below(57344),
          timestamp: h.tsVal !== undefined && this.#chance(0.95) ? { tsVal: this.#chance(0.05) ? tsVal - 100000 : tsVal, tsEcr: h.tsVal } : undefined,
          sackBlocks: fields.sack,
        },
        payload: fields.payload,
      }));
    };
    if (this.#chance(0.9)) segment({ seq, ack: ackBase, flags: 0x10 });
    const n = 1 + rng.below(8);
    for (let i = 0; i < n; i++) {
      const ack = this.#chance(0.8) ? (ackBase + rng.below(4000)) >>> 0 : (ackBase + rng.below(0x20000) - 0x10000) >>> 0;
      const r = rng.below(12);
      if (r < 4) {
        const payload = this.#bytes(1 + rng.below(1400));
        segment({ seq, ack, flags: this.#chance(0.5) ? 0x18 : 0x10, payload });
        seq = (seq + payload.length) >>> 0;
      } else if (r === 4) {
        segment({ seq: (seq + 1 + rng.below(70000)) >>> 0, ack, flags: 0x10, payload: this.#bytes(1 + rng.below(1400)) }); // out of order or beyond the window
      } else if (r === 5) {
        segment({ seq: (seq - rng.below(2000)) >>> 0, ack, flags: 0x18, payload: this.#bytes(1 + rng.below(2000)) }); // overlapping what came before
      } else if (r === 6) {
        segment({ seq, ack, flags: 0x11 });
        seq = (seq + 1) >>> 0;
      } else if (r === 7) {
        segment({ seq: this.#chance(0.5) ? seq : (seq + rng.below(100000)) >>> 0, ack, flags: this.#pick([0x04, 0x14]) });
      } else if (r === 8) {
        segment({ seq: (seq + rng.below(3)) >>> 0, ack, flags: this.#pick([0x02, 0x12]) }); // a SYN inside the connection
      } else if (r === 9) {
        segment({ seq, ack, flags: 0x10, window: 0 });
      } else if (r === 10) {
        const left = (ackBase + rng.below(8000)) >>> 0;
        segment({ seq, ack: ackBase, flags: 0x10, sack: [[left, (left + 1 + rng.below(3000)) >>> 0]] });
      } else {
        segment({ seq, ack, flags: 0x30, payload: this.#bytes(1 + rng.below(100)) }); // urgent data
      }
    }
    return frames;
  }

  // --- nearly valid --------------------------------------------------------------------------

  nearlyValid(): Uint8Array {
    const f = this.#pick([() => this.tcp(), () => this.udp(), () => this.icmp(), () => this.arp()])();
    const rng = this.#rng;
    if (!isIpv4(f)) {
      // ARP: a wrong hardware or protocol type or address length, or a short packet.
      const at = ETH + this.#pick([0, 1, 2, 3, 4, 5]);
      if (at < f.length) f[at] ^= 1 + rng.below(255);
      return this.#chance(0.3) ? f.subarray(0, ETH + rng.below(28)) : f;
    }
    const ihl = (f[ETH] & 15) * 4;
    const t = ETH + ihl;
    switch (rng.below(8)) {
      case 0: f[ETH + 10] ^= 1 + rng.below(255); break; // IP checksum
      case 1: writeU16(f, ETH + 2, (readU16(f, ETH + 2) + this.#pick([-1, 1, -20, 100, 0x10000 - 1])) & 0xffff); fixIpOnly(f); break; // total length
      case 2: f[ETH] = (rng.below(16) << 4) | (f[ETH] & 15); fixIpOnly(f); break; // version
      case 3: f[ETH] = (f[ETH] & 0xf0) | rng.below(16); fixIpOnly(f); break; // IHL
      case 4: if (t + 12 < f.length) { f[t + 12] = (rng.below(16) << 4) | (f[t + 12] & 15); fixChecksums(f); } break; // TCP data offset
      case 5: if (t + 5 < f.length) { writeU16(f, t + 4, rng.below(0x10000)); fixChecksums(f); } break; // UDP length
      case 6: if (t + 17 < f.length) f[t + 16 + rng.below(2)] ^= 1 + rng.below(255); break; // transport checksum
      default: return f.subarray(0, ETH + rng.below(f.length - ETH)); // cut short
    }
    return f;
  }

  // --- mutated from the corpus ----------------------------------------------------------------

  mutated(): Uint8Array {
    const rng = this.#rng;
    const seed = this.#pick(this.#corpus);
    let f = seed.bytes.slice();
    // Send it to A (a reply A sent to C comes back at A as if C had sent it).
    if (!seed.toA) {
      f.copyWithin(0, 6, 12);
      f.set([2, 0, 0, 0, 0, 3], 6);
      if (isIpv4(f)) {
        const a = readU32(f, ETH + 12);
        writeU32(f, ETH + 12, readU32(f, ETH + 16));
        writeU32(f, ETH + 16, a);
      }
    }
    const edits = 1 + rng.below(4);
    for (let e = 0; e < edits; e++) {
      switch (rng.below(7)) {
        case 0: { // bit flips
          const n = 1 + rng.below(8);
          for (let i = 0; i < n; i++) {
            const at = rng.below(f.length);
            f[at] ^= 1 << rng.below(8);
          }
          break;
        }
        case 1: f = f.subarray(0, rng.below(f.length + 1)); break; // truncation
        case 2: { // junk appended
          const g = new Uint8Array(f.length + 1 + rng.below(64));
          g.set(f);
          g.set(this.#bytes(g.length - f.length), f.length);
          f = g;
          break;
        }
        case 3: { // an interesting value in a header field
          if (f.length <= ETH + 4) break;
          const at = ETH + rng.below(Math.min(f.length - ETH - 1, 60));
          const v = this.#pick([0, 0xff, 0x7f, 0x80, 1, 0x40]);
          f[at] = v;
          if (this.#chance(0.5)) f[at + 1] = v;
          break;
        }
        case 4: if (isIpv4(f)) writeU16(f, ETH + 6, this.#pick([0x2000, 0x0001, 0x1fff, 0x4000, 0x2000 | rng.below(0x2000), rng.below(0x10000)])); break; // fragment field
        case 5: this.#optionSoup(f); break;
        default: if (isIpv4(f) && f.length >= ETH + 24) writeU32(f, ETH + 20 + 4 * rng.below(2), rng.uint32()); break; // ports / seq
      }
    }
    if (this.#chance(0.5)) fixChecksums(f);
    return f;
  }

  /** Rewrites a TCP header's options with random option bytes (kinds, lengths, garbage). */
  #optionSoup(f: Uint8Array): void {
    if (!isIpv4(f) || f[ETH + 9] !== 6) return;
    const ihl = (f[ETH] & 15) * 4;
    const t = ETH + ihl;
    if (t + 20 > f.length) return;
    const hl = (f[t + 12] >>> 4) * 4;
    const end = Math.min(t + hl, f.length);
    for (let at = t + 20; at < end;) {
      const kind = this.#pick([0, 1, 2, 3, 4, 5, 8, 30, 34, 254, this.#rng.below(256)]);
      f[at++] = kind;
      if (at < end && kind > 1) f[at++] = this.#pick([0, 1, 2, 3, 4, 10, 18, 40, this.#rng.below(256)]);
      const body = this.#rng.below(10);
      for (let i = 0; i < body && at < end; i++) f[at++] = this.#rng.below(256);
    }
    fixChecksums(f);
  }

  // --- fragment storms ---------------------------------------------------------------------------

  fragmentStorm(): Uint8Array[] {
    const rng = this.#rng;
    const src = (SUBNET | (3 + rng.below(250))) >>> 0;
    const protocol = this.#pick([1, 6, 17, 47]);
    const ident = this.#ident++ & 0xffff;
    const total = 8 * (1 + rng.below(this.#chance(0.1) ? 8191 : 400)); // up to 65,528 bytes
    const n = 2 + rng.below(30);
    const out: Uint8Array[] = [];
    const complete = this.#chance(0.3);
    const pieces: Array<[number, number]> = [];
    if (complete) {
      // Covering pieces in some order, plus overlaps and duplicates.
      const step = 8 * (1 + rng.below(180));
      for (let off = 0; off < total; off += step) pieces.push([off, Math.min(step, total - off)]);
    }
    while (pieces.length < n) {
      const off = 8 * rng.below(Math.max(1, total / 8));
      pieces.push([off, this.#pick([0, 1, 7, 8, 16, 64, 512, 1472, rng.below(1480)])]);
    }
    for (let i = pieces.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [pieces[i], pieces[j]] = [pieces[j], pieces[i]];
    }
    const eth = { src: this.#srcMac(), dst: A_MAC };
    for (const [off, len] of pieces.slice(0, 64)) {
      const more = off + len < total || this.#chance(0.1);
      const frame = ipv4Frame({
        eth, protocol,
        ip: { src, dst: this.#chance(0.95) ? A_IP_NUM : 0xffffffff, ident: this.#chance(0.9) ? ident : rng.below(0x10000), moreFragments: more, fragmentOffset: Math.min(off, 65528), ttl: 64 },
        payload: this.#bytes(Math.min(len, 1480)),
      });
      out.push(frame);
    }
    return out;
  }
}

/** The MAC a resolvable stranger announces: 02:00:00:00:<last byte of its address>:03. */
function strangerMac(ip: number): string {
  return `02:00:00:00:${(ip & 0xff).toString(16).padStart(2, '0')}:03`;
}

function fixIpOnly(f: Uint8Array): void {
  // The IP checksum only: the transport is left as the edit made it.
  const ihl = (f[ETH] & 15) * 4;
  if (ihl < 20 || ETH + ihl > f.length) return;
  f[ETH + 10] = 0;
  f[ETH + 11] = 0;
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) sum += (f[ETH + i] << 8) | f[ETH + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  writeU16(f, ETH + 10, ~sum & 0xffff);
}

/**
 * Keeps fuzzed frames from speaking as B: an IPv4 source or ARP sender address of B is moved to
 * another stranger (the checksums are fixed only if they were right before).
 */
export function protectLivePeer(f: Uint8Array): void {
  if (f.length >= ETH + 28 && f[12] === 0x08 && f[13] === 0x06 && readU32(f, ETH + 14) === B_IP_NUM) {
    writeU32(f, ETH + 14, (SUBNET | 4) >>> 0);
  }
  if (isIpv4(f) && readU32(f, ETH + 12) === B_IP_NUM) {
    writeU32(f, ETH + 12, (SUBNET | 5) >>> 0);
    fixChecksums(f);
  }
}
