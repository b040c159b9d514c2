/**
 * Test helper: one stack on one end of the memory wire, and on the other end a "raw peer" that
 * is not a stack: the test hands it frames built byte by byte and reads everything the stack
 * sends, parsed, with the (virtual) time it arrived. The peer answers ARP requests for its own
 * address unless told not to, so the stack can reach it.
 *
 *   stack 198.18.0.2 / 02:00:00:00:00:02  <== memory wire ==>  peer 198.18.0.1 / 02:00:00:00:00:01
 */
import type { SchedulerLike } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { createMemoryWire, type MemoryWireEnd, type MemoryWireOptions } from '../../../streams/links/memory-wire.js';
import { createStack, type Stack, type StackHooks } from '../../../streams/stack/create-stack.js';
import type { StackConfigInput } from '../../../src/config/stack-config.js';
import type { Link } from '../../../streams/links/link.js';
import { parseEthernet, emitEthernet, EtherType, type ParsedEthernet } from '../../../src/wire/ethernet.js';
import { parseArp, emitArp, ArpOp, type ArpRepr } from '../../../src/wire/arp.js';
import { parseIpv4, emitIpv4, type ParsedIpv4, type Ipv4Repr } from '../../../src/wire/ipv4.js';
import { parseIcmp, emitIcmp, type IcmpRepr } from '../../../src/wire/icmp.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';
import { parseIpv4 as parseAddr } from '../../../src/ipv4/address.js';
import { parseMac, MAC_BROADCAST, MAC_ZERO, type MacAddr } from '../../../src/mac.js';
import type { Snapshot } from '../../../src/stats.js';

export const STACK_IP = '198.18.0.2';
export const PEER_IP = '198.18.0.1';
export const STACK_MAC = '02:00:00:00:00:02';
export const PEER_MAC = '02:00:00:00:00:01';

/** Dotted quad to number, throwing on typos in tests. */
export function ip(text: string): number {
  const a = parseAddr(text);
  if (a === undefined) throw new Error(`bad address in test: ${text}`);
  return a;
}

/** `aa:bb:..` to bytes, throwing on typos in tests. */
export function mac(text: string): MacAddr {
  const m = parseMac(text);
  if (m === undefined) throw new Error(`bad MAC in test: ${text}`);
  return m;
}

/** A frame the stack sent, parsed as far as it goes. */
export interface Seen {
  /** Scheduler time of arrival at the peer. */
  readonly at: number;
  readonly frame: Uint8Array;
  readonly eth: ParsedEthernet;
  readonly arp?: ArpRepr;
  readonly ipv4?: ParsedIpv4;
  /** Parsed for unfragmented ICMP datagrams only. */
  readonly icmp?: IcmpRepr;
}

export interface RawPeerOptions {
  readonly scheduler?: SchedulerLike;
  /** Merged into the stack configuration (arp, ipv4, icmp sections, routes...). */
  readonly config?: Partial<StackConfigInput<Link>>;
  /** The stack interface's addresses. Default ['198.18.0.2/24']. */
  readonly addresses?: readonly string[];
  readonly hooks?: StackHooks;
  readonly wire?: MemoryWireOptions;
  /** Addresses the peer answers ARP requests for (with its MAC). Default [PEER_IP]. */
  readonly answerArpFor?: readonly string[];
}

export interface RawPeer {
  readonly stack: Stack;
  /** The peer's end of the wire. */
  readonly link: MemoryWireEnd;
  /** Every frame the stack sent, in order of arrival. */
  readonly seen: Seen[];
  /** Sends a frame to the stack. */
  send(frame: Uint8Array): void;
  /** Frames seen so far that are ICMP messages of this type. */
  icmp(type: number): Seen[];
  /** ARP packets seen so far with this operation. */
  arp(op: number): Seen[];
  close(): void;
}

export function rawPeer(opts: RawPeerOptions = {}): RawPeer {
  const [peerEnd, stackEnd] = createMemoryWire({ scheduler: opts.scheduler, macs: [PEER_MAC, STACK_MAC], ...opts.wire });
  const seen: Seen[] = [];
  const now = () => (opts.scheduler ?? Date).now();
  const answer = new Set((opts.answerArpFor ?? [PEER_IP]).map(ip));
  // Subscribe before the stack exists so its gratuitous ARP is seen too.
  const sub = peerEnd.frames$.subscribe((frame) => {
    const s = parseSeen(frame, now());
    seen.push(s);
    if (s.arp && s.arp.op === ArpOp.REQUEST && answer.has(s.arp.targetIp) && s.arp.senderIp !== s.arp.targetIp) {
      peerEnd.send(arpFrame({ op: ArpOp.REPLY, senderMac: mac(PEER_MAC), senderIp: s.arp.targetIp, targetMac: s.arp.senderMac, targetIp: s.arp.senderIp }, s.arp.senderMac));
    }
  });
  const stack = createStack(
    {
      interfaces: [{ name: 'eth0', link: stackEnd, mac: STACK_MAC, ipv4: opts.addresses ?? [`${STACK_IP}/24`] }],
      ...opts.config,
    },
    { scheduler: opts.scheduler, hooks: opts.hooks },
  );
  return {
    stack,
    link: peerEnd,
    seen,
    send: (frame) => peerEnd.send(frame),
    icmp: (type) => seen.filter((s) => s.icmp !== undefined && icmpType(s.icmp) === type),
    arp: (op) => seen.filter((s) => s.arp !== undefined && s.arp.op === op),
    close: () => {
      sub.unsubscribe();
      stack.close();
    },
  };
}

function icmpType(r: IcmpRepr): number {
  switch (r.kind) {
    case 'echo-reply': return 0;
    case 'dest-unreachable': return 3;
    case 'echo-request': return 8;
    case 'time-exceeded': return 11;
    case 'parameter-problem': return 12;
    case 'other': return r.type;
  }
}

function parseSeen(frame: Uint8Array, at: number): Seen {
  const e = parseEthernet(frame);
  if (!e.ok) throw new Error(`the stack sent a frame shorter than an Ethernet header (${frame.length} bytes)`);
  const eth = e.value;
  if (eth.ethertype === EtherType.ARP) {
    const a = parseArp(eth.payload);
    return { at, frame, eth, arp: a.ok ? { ...a.value, senderMac: a.value.senderMac.slice(), targetMac: a.value.targetMac.slice() } : undefined };
  }
  if (eth.ethertype === EtherType.IPV4) {
    const p = parseIpv4(eth.payload);
    if (!p.ok) return { at, frame, eth };
    const v = p.value;
    const fragment = v.moreFragments || v.fragmentOffset !== 0;
    const icmp = v.protocol === 1 && !fragment ? parseIcmp(v.payload) : undefined;
    return { at, frame, eth, ipv4: v, icmp: icmp?.ok ? icmp.value : undefined };
  }
  return { at, frame, eth };
}

// --- Frame builders ------------------------------------------------------------------------------

/** An Ethernet frame: header then `payload`. MACs as text or bytes. */
export function ethFrame(dst: string | Uint8Array, src: string | Uint8Array, ethertype: number, payload: Uint8Array): Uint8Array {
  const pb = PacketBuffer.withPayload(payload, 14);
  emitEthernet({ dst: typeof dst === 'string' ? mac(dst) : dst, src: typeof src === 'string' ? mac(src) : src, ethertype }, pb);
  return pb.bytes().slice();
}

/** An ARP packet in an Ethernet frame (to broadcast unless `ethDst`), from the ARP sender's MAC. */
export function arpFrame(repr: ArpRepr, ethDst: Uint8Array = MAC_BROADCAST): Uint8Array {
  const pb = PacketBuffer.alloc(0, 14 + 28);
  emitArp(repr, pb);
  emitEthernet({ dst: ethDst, src: repr.senderMac, ethertype: EtherType.ARP }, pb);
  return pb.bytes().slice();
}

/** A broadcast ARP request from `senderIp`/`senderMac` for `targetIp`. */
export function arpRequest(senderIp: string, senderMac: string, targetIp: string, opts: { ethDst?: string; targetMac?: string } = {}): Uint8Array {
  return arpFrame(
    { op: ArpOp.REQUEST, senderMac: mac(senderMac), senderIp: ip(senderIp), targetMac: opts.targetMac ? mac(opts.targetMac) : MAC_ZERO, targetIp: ip(targetIp) },
    opts.ethDst ? mac(opts.ethDst) : MAC_BROADCAST,
  );
}

/** An IPv4 packet (header with a correct checksum, then `payload`). */
export function ipv4Packet(repr: Partial<Ipv4Repr> & { readonly protocol: number }, payload: Uint8Array): Uint8Array {
  const pb = PacketBuffer.withPayload(payload, 60);
  emitIpv4(
    {
      src: ip(PEER_IP),
      dst: ip(STACK_IP),
      ttl: 64,
      ident: 0x1234,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      ...repr,
    },
    pb,
  );
  return pb.bytes().slice();
}

/** An ICMP message with a correct checksum: 8-byte header from `repr`, then `body`. */
export function icmpMessage(repr: IcmpRepr, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const pb = PacketBuffer.withPayload(body, 8);
  emitIcmp(repr, pb);
  return pb.bytes().slice();
}

/** An echo request with `size` data bytes (0, 1, 2, ... mod 256). */
export function echoRequest(ident: number, seq: number, size = 56): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = i & 0xff;
  return icmpMessage({ kind: 'echo-request', ident, seq, data }, data);
}

/** A complete frame peer -> stack carrying an IPv4 packet (from the peer's MAC to the stack's unless said). */
export function ipv4Frame(packet: Uint8Array, ethDst: string = STACK_MAC, ethSrc: string = PEER_MAC): Uint8Array {
  return ethFrame(ethDst, ethSrc, EtherType.IPV4, packet);
}

/** An echo request from the peer to the stack in a frame, with IPv4 fields overridable. */
export function pingFrame(ident: number, seq: number, ipRepr: Partial<Ipv4Repr> = {}, size = 56, ethDst: string = STACK_MAC): Uint8Array {
  return ipv4Frame(ipv4Packet({ protocol: 1, ...ipRepr }, echoRequest(ident, seq, size)), ethDst);
}

/**
 * Runs a TestScheduler (not in run mode) up to `now + ms`, executing everything due by then,
 * and leaves its clock exactly there.
 */
export function advance(ts: TestScheduler, ms: number): void {
  const target = ts.now() + ms;
  ts.schedule(() => undefined, ms);
  ts.maxFrames = target;
  ts.flush();
}

/** A counter from `stack.stats()` by path (`stat(s, 'arp:eth0', 'drops', 'truncated')`); throws when absent. */
export function stat(stack: Stack, ...path: string[]): number {
  let v: Snapshot | undefined = stack.stats() as unknown as Snapshot;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`stats: ${path.join('.')} not found`);
    v = (v as { readonly [k: string]: Snapshot })[key];
  }
  if (typeof v !== 'number') throw new Error(`stats: ${path.join('.')} is not a number`);
  return v;
}

/**
 * Fragments of one IPv4 datagram peer -> stack, as frames: `pieces` are [offset, length] byte
 * ranges of `payload` (offsets multiples of 8); MF is set on all but the piece that ends the payload.
 */
export function fragmentFrames(payload: Uint8Array, pieces: readonly (readonly [number, number])[], ipRepr: Partial<Ipv4Repr> & { readonly protocol: number }): Uint8Array[] {
  return pieces.map(([offset, length]) =>
    ipv4Frame(ipv4Packet({ ident: 0x4242, ...ipRepr, fragmentOffset: offset, moreFragments: offset + length < payload.length }, payload.subarray(offset, offset + length))),
  );
}
