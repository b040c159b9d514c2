/**
 * A raw peer: the far end of a link driven frame by frame by the test instead of by a stack.
 * It records every frame it receives (decoded, with the scheduler time of arrival), sends the
 * frames the test builds, and answers ARP requests for its own address so the stack under test
 * can reach it. Everything else is the test's to do: a SYN the stack sends stays unanswered
 * until the test sends the SYN-ACK.
 *
 * ```ts
 * const [stackEnd, peerEnd] = createMemoryWire({ scheduler });
 * const peer = createTestPeer(peerEnd, { ip: '198.18.0.1', remoteIp: '198.18.0.2', scheduler });
 * const stack = createStack({ interfaces: [{ name: 'eth0', link: stackEnd, ipv4: ['198.18.0.2/24'] }] }, { scheduler });
 * peer.sendTcp({ srcPort: 40000, dstPort: 80, seq: 1000, flags: 'SYN', mss: 1460 });
 * const synAck = await nextFrame(peer, isTcp({ flags: 'SYN|ACK' }));
 * ```
 */
import { Subject, asyncScheduler, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { NetstackError } from '../../src/index.js';
import type { Link } from '../index.js';
import { ipv4Text, macText, type Ipv4Like, type MacLike } from './addresses.js';
import { decodeFrame, type DecodedFrame, type ReceivedFrame } from './decode.js';
import {
  arpFrame, icmpEchoFrame, tcpFrame, udpFrame,
  type EthernetFields, type Ipv4Fields, type PayloadLike, type TcpFields, type UdpFields,
} from './frames.js';
import type { FrameMatcher } from './match.js';

export interface TestPeerOptions {
  /** The peer's IPv4 address. Default `'198.18.0.1'`. */
  readonly ip?: Ipv4Like;
  /** The peer's MAC. Default: the link's own (`link.mac`), else `'02:00:00:00:00:01'`. */
  readonly mac?: MacLike;
  /** The address of the stack under test: where `sendTcp` and friends send by default. Default `'198.18.0.2'`. */
  readonly remoteIp?: Ipv4Like;
  /**
   * The stack's MAC. Default: learnt from the first ARP packet the stack sends from `remoteIp`
   * (a stack announces itself with a gratuitous ARP when it starts).
   */
  readonly remoteMac?: MacLike;
  /** Addresses whose ARP requests the peer answers with its MAC. Default `[ip]`; `[]` answers none. */
  readonly answerArpFor?: readonly Ipv4Like[];
  /** Clock of the arrival times and of the waits. Default `asyncScheduler`; pass the test's TestScheduler. */
  readonly scheduler?: SchedulerLike;
}

/** Header fields a `send*` helper takes on top of its own: overrides of the peer's defaults. */
export interface PeerOverrides {
  /** Default: from the peer's MAC to the stack's. */
  readonly eth?: Partial<EthernetFields>;
  /** Default: from the peer's address to the stack's, TTL 64. */
  readonly ip?: Partial<Ipv4Fields>;
}

/**
 * The far end of a link, driven by the test. Create it with `createTestPeer` (any link) or
 * `createStackAndPeer` (a stack and a peer on a memory wire).
 *
 * It keeps every frame it receives until it is closed (`received`): for bulk transfers, test
 * with a pair of stacks instead, and keep the peer for what must be seen byte by byte.
 */
export class TestPeer {
  /** The peer's end of the link. */
  readonly link: Link;
  readonly ip: string;
  readonly mac: string;
  readonly remoteIp: string;
  readonly scheduler: SchedulerLike;
  readonly #received: ReceivedFrame[] = [];
  readonly #pending = new Set<ReceivedFrame>();
  readonly #arrivals = new Subject<ReceivedFrame>();
  readonly #answerArpFor: ReadonlySet<string>;
  readonly #subscription: Subscription;
  #remoteMac: string | undefined;
  #closed = false;

  constructor(link: Link, options: TestPeerOptions = {}) {
    this.link = link;
    this.ip = ipv4Text(options.ip ?? '198.18.0.1');
    this.mac = macText(options.mac ?? link.mac ?? '02:00:00:00:00:01');
    this.remoteIp = ipv4Text(options.remoteIp ?? '198.18.0.2');
    this.#remoteMac = options.remoteMac === undefined ? undefined : macText(options.remoteMac);
    this.#answerArpFor = new Set((options.answerArpFor ?? [this.ip]).map((a) => ipv4Text(a)));
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.#subscription = link.frames$.subscribe({
      next: (bytes) => this.#receive(bytes),
      complete: () => this.#arrivals.complete(),
      error: (err: unknown) => this.#arrivals.error(err),
    });
  }

  /** Every frame received so far, in order of arrival (taken or not). */
  get received(): readonly ReceivedFrame[] {
    return this.#received;
  }

  /** Frames received and not yet taken by `take` or `nextFrame`, in order of arrival. */
  get pending(): readonly ReceivedFrame[] {
    return [...this.#pending];
  }

  /** Each frame as it arrives (hot: a subscriber sees frames arriving after it subscribed). Completes when the link closes. */
  get frames$(): Observable<ReceivedFrame> {
    return this.#arrivals.asObservable();
  }

  /** The stack's MAC: given, or learnt from its ARP; undefined until known. */
  get remoteMac(): string | undefined {
    return this.#remoteMac;
  }

  /**
   * Removes and returns the first pending frame that `matcher` accepts (frames it skips stay
   * pending), or undefined when there is none.
   */
  take<T extends DecodedFrame>(matcher: FrameMatcher<T>): (T & ReceivedFrame) | undefined;
  take(matcher: (frame: ReceivedFrame) => boolean): ReceivedFrame | undefined;
  take(matcher: (frame: ReceivedFrame) => boolean): ReceivedFrame | undefined {
    for (const f of this.#pending) {
      if (matcher(f)) {
        this.#pending.delete(f);
        return f;
      }
    }
    return undefined;
  }

  /** Takes this very frame out of the pending ones; false when it was taken already. */
  claim(frame: ReceivedFrame): boolean {
    return this.#pending.delete(frame);
  }

  /** Forgets every pending frame (`received` keeps them). */
  clearPending(): void {
    this.#pending.clear();
  }

  /** Sends a frame as it is. */
  send(frame: Uint8Array): void {
    this.link.send(frame);
  }

  /** Sends a TCP segment to the stack and returns the frame. */
  sendTcp(fields: TcpFields & PeerOverrides & { readonly payload?: PayloadLike }): Uint8Array {
    const { eth, ip, payload, ...tcp } = fields;
    return this.#sent(tcpFrame({ eth: this.#eth(eth), ip: this.#ip(ip), tcp, payload }));
  }

  /** Sends a UDP datagram to the stack and returns the frame. */
  sendUdp(fields: UdpFields & PeerOverrides & { readonly payload?: PayloadLike }): Uint8Array {
    const { eth, ip, payload, ...udp } = fields;
    return this.#sent(udpFrame({ eth: this.#eth(eth), ip: this.#ip(ip), udp, payload }));
  }

  /** Sends an ICMP echo request (or reply) to the stack and returns the frame. */
  sendPing(fields: PeerOverrides & { readonly ident: number; readonly seq: number; readonly data?: PayloadLike; readonly kind?: 'request' | 'reply' }): Uint8Array {
    const { eth, ip, ...echo } = fields;
    return this.#sent(icmpEchoFrame({ eth: this.#eth(eth), ip: this.#ip(ip), ...echo }));
  }

  /** Sends a broadcast ARP request from the peer: who has `targetIp` (default the stack's address)? */
  sendArpRequest(targetIp: Ipv4Like = this.remoteIp): Uint8Array {
    return this.#sent(arpFrame({ op: 'request', senderMac: this.mac, senderIp: this.ip, targetIp }));
  }

  /** Stops listening to the link (it does not close the link: its owner does). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscription.unsubscribe();
    this.#arrivals.complete();
  }

  #sent(frame: Uint8Array): Uint8Array {
    this.link.send(frame);
    return frame;
  }

  #eth(over: Partial<EthernetFields> | undefined): EthernetFields {
    const dst = over?.dst ?? this.#remoteMac;
    if (dst === undefined) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `TestPeer: the MAC of ${this.remoteIp} is not known yet: pass remoteMac, or eth.dst, or wait for the stack's ARP`);
    }
    return { src: this.mac, ...over, dst };
  }

  #ip(over: Partial<Ipv4Fields> | undefined): Ipv4Fields {
    return { src: this.ip, dst: this.remoteIp, ...over };
  }

  #receive(bytes: Uint8Array): void {
    const frame: ReceivedFrame = { ...decodeFrame(bytes), at: this.scheduler.now() };
    this.#received.push(frame);
    this.#pending.add(frame);
    const arp = frame.arp;
    if (arp !== undefined) {
      if (this.#remoteMac === undefined && arp.senderIp === this.remoteIp) this.#remoteMac = arp.senderMac;
      // Answer requests for our addresses, but not a stack's probe or announcement of its own.
      if (arp.op === 'request' && this.#answerArpFor.has(arp.targetIp) && arp.senderIp !== arp.targetIp) {
        this.link.send(arpFrame({ op: 'reply', senderMac: this.mac, senderIp: arp.targetIp, targetMac: arp.senderMac, targetIp: arp.senderIp }));
      }
    }
    this.#arrivals.next(frame);
  }
}

/** A raw peer on `link` (see `TestPeer`). Subscribe it before the stack starts to see its first ARP. */
export function createTestPeer(link: Link, options: TestPeerOptions = {}): TestPeer {
  return new TestPeer(link, options);
}
