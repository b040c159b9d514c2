/**
 * Frame matchers: predicates over decoded frames that narrow the type (after `isTcp()` the
 * frame's `tcp` and `ipv4` are known to be there) and carry a `description` for failure
 * messages (`no frame matching TCP [SYN|ACK] to port 40000 within 1000 ms`).
 *
 * Every field of a match is optional; a field left out matches anything. Addresses compare as
 * text or uint32, flags exactly (`flags: 'SYN|ACK'`) or as a subset (`hasFlags: 'FIN'`).
 */
import { wire } from '../../src/index.js';
import { ipv4Text, macText, type Ipv4Like, type MacLike } from './addresses.js';
import type { DecodedArp, DecodedFrame, DecodedIpv4, DecodedTcp, DecodedUdp } from './decode.js';
import { payloadBytes, type PayloadLike } from './frames.js';
import { formatTcpFlags, tcpFlagBits, type TcpFlagsLike } from './tcp-flags.js';

/** A predicate over decoded frames that narrows them to `T`, with words for error messages. */
export type FrameMatcher<T extends DecodedFrame = DecodedFrame> = ((frame: DecodedFrame) => frame is T) & {
  readonly description: string;
};

export type ArpFrame = DecodedFrame & { readonly arp: DecodedArp };
export type Ipv4Frame = DecodedFrame & { readonly ipv4: DecodedIpv4 };
export type IcmpFrame = Ipv4Frame & { readonly icmp: wire.IcmpRepr };
export type UdpFrame = Ipv4Frame & { readonly udp: DecodedUdp };
export type TcpFrame = Ipv4Frame & { readonly tcp: DecodedTcp };

/** Builds a matcher from a predicate and its description. */
export function frameMatcher<T extends DecodedFrame>(description: string, test: (frame: DecodedFrame) => boolean): FrameMatcher<T> {
  const matcher = ((frame: DecodedFrame) => test(frame)) as FrameMatcher<T>;
  Object.defineProperty(matcher, 'description', { value: description, enumerable: true });
  return matcher;
}

/** Matches any frame. */
export const anyFrame: FrameMatcher = frameMatcher('any frame', () => true);

/** A matcher and more checks on what it matched: `allOf(isTcp({ dstPort: 80 }), (f) => f.ipv4.ttl === 64)`. */
export function allOf<T extends DecodedFrame>(first: FrameMatcher<T>, ...more: ReadonlyArray<(frame: T) => boolean>): FrameMatcher<T> {
  const words = more.map((m) => (m as Partial<FrameMatcher>).description ?? 'a predicate');
  return frameMatcher<T>([first.description, ...words].join(' and '), (f) => first(f) && more.every((m) => m(f as T)));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Words and checks of the address part shared by the IPv4-based matchers. */
interface Ipv4Match {
  /** Source address. */
  readonly src?: Ipv4Like;
  /** Destination address. */
  readonly dst?: Ipv4Like;
}

function ipChecks(m: Ipv4Match, words: string[], checks: Array<(f: Ipv4Frame) => boolean>): void {
  if (m.src !== undefined) {
    const src = ipv4Text(m.src);
    words.push(`from ${src}`);
    checks.push((f) => f.ipv4.src === src);
  }
  if (m.dst !== undefined) {
    const dst = ipv4Text(m.dst);
    words.push(`to ${dst}`);
    checks.push((f) => f.ipv4.dst === dst);
  }
}

/** ARP packets: `isArp({ op: 'request', targetIp: '198.18.0.1' })`. */
export function isArp(m: { readonly op?: 'request' | 'reply' | number; readonly senderIp?: Ipv4Like; readonly targetIp?: Ipv4Like; readonly senderMac?: MacLike } = {}): FrameMatcher<ArpFrame> {
  const senderIp = m.senderIp === undefined ? undefined : ipv4Text(m.senderIp);
  const targetIp = m.targetIp === undefined ? undefined : ipv4Text(m.targetIp);
  const senderMac = m.senderMac === undefined ? undefined : macText(m.senderMac);
  const words = ['ARP', m.op === undefined ? '' : String(m.op), targetIp === undefined ? '' : `for ${targetIp}`, senderIp === undefined ? '' : `from ${senderIp}`];
  return frameMatcher<ArpFrame>(words.filter(Boolean).join(' '), (f) => {
    const a = f.arp;
    return a !== undefined && (m.op === undefined || a.op === m.op) && (senderIp === undefined || a.senderIp === senderIp) &&
      (targetIp === undefined || a.targetIp === targetIp) && (senderMac === undefined || a.senderMac === senderMac);
  });
}

/** IPv4 packets (whole or fragments): `isIpv4({ protocol: 17, dst: '198.18.0.1' })`. */
export function isIpv4(m: Ipv4Match & { readonly protocol?: number } = {}): FrameMatcher<Ipv4Frame> {
  const words = ['IPv4'];
  const checks: Array<(f: Ipv4Frame) => boolean> = [];
  if (m.protocol !== undefined) {
    words.push(`protocol ${m.protocol}`);
    checks.push((f) => f.ipv4.protocol === m.protocol);
  }
  ipChecks(m, words, checks);
  return frameMatcher<Ipv4Frame>(words.join(' '), (f) => f.ipv4 !== undefined && checks.every((c) => c(f as Ipv4Frame)));
}

/** ICMP messages: `isIcmp({ kind: 'echo-reply', ident: 7 })`. */
export function isIcmp(m: Ipv4Match & { readonly kind?: wire.IcmpRepr['kind']; readonly ident?: number; readonly seq?: number; readonly code?: number } = {}): FrameMatcher<IcmpFrame> {
  const words = [`ICMP${m.kind === undefined ? '' : ` ${m.kind}`}`];
  const checks: Array<(f: IcmpFrame) => boolean> = [];
  if (m.kind !== undefined) checks.push((f) => f.icmp.kind === m.kind);
  if (m.ident !== undefined) {
    words.push(`id ${m.ident}`);
    checks.push((f) => 'ident' in f.icmp && f.icmp.ident === m.ident);
  }
  if (m.seq !== undefined) {
    words.push(`seq ${m.seq}`);
    checks.push((f) => 'seq' in f.icmp && f.icmp.seq === m.seq);
  }
  if (m.code !== undefined) {
    words.push(`code ${m.code}`);
    checks.push((f) => 'code' in f.icmp && f.icmp.code === m.code);
  }
  ipChecks(m, words, checks as Array<(f: Ipv4Frame) => boolean>);
  return frameMatcher<IcmpFrame>(words.join(' '), (f) => f.ipv4 !== undefined && f.icmp !== undefined && checks.every((c) => c(f as IcmpFrame)));
}

/** Port and payload parts shared by UDP and TCP. */
interface TransportMatch extends Ipv4Match {
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** Exactly these bytes (text as UTF-8). */
  readonly payload?: PayloadLike;
  /** Exactly this many payload bytes. */
  readonly payloadLength?: number;
}

function transportChecks<F extends Ipv4Frame>(
  m: TransportMatch, part: (f: F) => { readonly srcPort: number; readonly dstPort: number; readonly payload: Uint8Array }, words: string[],
): Array<(f: F) => boolean> {
  const checks: Array<(f: F) => boolean> = [];
  if (m.srcPort !== undefined) {
    words.push(`from port ${m.srcPort}`);
    checks.push((f) => part(f).srcPort === m.srcPort);
  }
  if (m.dstPort !== undefined) {
    words.push(`to port ${m.dstPort}`);
    checks.push((f) => part(f).dstPort === m.dstPort);
  }
  if (m.payload !== undefined) {
    const bytes = payloadBytes(m.payload);
    words.push(`with ${typeof m.payload === 'string' ? JSON.stringify(m.payload) : `${bytes.length} given bytes`}`);
    checks.push((f) => equalBytes(part(f).payload, bytes));
  }
  if (m.payloadLength !== undefined) {
    words.push(`len=${m.payloadLength}`);
    checks.push((f) => part(f).payload.length === m.payloadLength);
  }
  ipChecks(m, words, checks as Array<(f: Ipv4Frame) => boolean>);
  return checks;
}

/** UDP datagrams: `isUdp({ dstPort: 53, payload: 'ping' })`. */
export function isUdp(m: TransportMatch = {}): FrameMatcher<UdpFrame> {
  const words = ['UDP'];
  const checks = transportChecks<UdpFrame>(m, (f) => f.udp, words);
  return frameMatcher<UdpFrame>(words.join(' '), (f) => f.ipv4 !== undefined && f.udp !== undefined && checks.every((c) => c(f as UdpFrame)));
}

/**
 * TCP segments: `isTcp({ flags: 'SYN|ACK', dstPort: 40000 })`. `flags` must equal the segment's
 * control bits exactly; `hasFlags` only requires these bits (`hasFlags: 'RST'` matches RST and
 * RST|ACK); `seq` and `ack` compare the raw numbers.
 */
export function isTcp(m: TransportMatch & { readonly flags?: TcpFlagsLike; readonly hasFlags?: TcpFlagsLike; readonly seq?: number; readonly ack?: number } = {}): FrameMatcher<TcpFrame> {
  const words = ['TCP'];
  const checks = transportChecks<TcpFrame>(m, (f) => f.tcp, words);
  if (m.flags !== undefined) {
    const bits = tcpFlagBits(m.flags);
    words.splice(1, 0, `[${formatTcpFlags(bits)}]`);
    checks.push((f) => f.tcp.flags === bits);
  }
  if (m.hasFlags !== undefined) {
    const bits = tcpFlagBits(m.hasFlags);
    words.splice(1, 0, `with ${formatTcpFlags(bits)}`);
    checks.push((f) => (f.tcp.flags & bits) === bits);
  }
  if (m.seq !== undefined) {
    words.push(`seq=${m.seq}`);
    checks.push((f) => f.tcp.seq === m.seq! >>> 0);
  }
  if (m.ack !== undefined) {
    words.push(`ack=${m.ack}`);
    checks.push((f) => f.tcp.ack === m.ack! >>> 0);
  }
  return frameMatcher<TcpFrame>(words.join(' '), (f) => f.ipv4 !== undefined && f.tcp !== undefined && checks.every((c) => c(f as TcpFrame)));
}
