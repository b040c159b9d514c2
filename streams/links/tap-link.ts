/**
 * The TAP device as a Link: `frames$` is fed by the device's read batches, `send` writes to it.
 *
 * The stack behind a TAP link is a separate host on the segment whose other host is the kernel
 * (the device's own MAC and addresses belong to the kernel side). So `mac` is the MAC prescribed
 * for the stack by `options.mac` (undefined when not given: the stack chooses), never the
 * device's; the device's own is `link.device.mac`.
 *
 * @example
 * const link = tapLink({ name: 'tap0', netns: 'testns' });
 * link.frames$.subscribe((frame) => console.log(frame.length));
 * link.send(frame);
 * link.close();
 */
import { Subject, type Observable } from 'rxjs';
import { emptyArray } from '../../src/empty-array.js';
import { bufferOf, byteOffsetOf } from '../../src/byte-view.js';
import { NetstackError } from '../../src/errors.js';
import { parseMac } from '../../src/mac.js';
import { ETHERNET_HEADER_LEN, EthernetOffset, EtherType } from '../../src/wire/ethernet.js';
import { IpProtocol, Ipv4Offset } from '../../src/wire/ipv4.js';
import { IPV6_HEADER_LEN, Ipv6Offset } from '../../src/wire/ipv6.js';
import { TcpOffset } from '../../src/wire/tcp.js';
import { UdpOffset } from '../../src/wire/udp.js';
import { atEndOfTask } from '../microtask.js';
import { inboundBatchEnd, inboundBatchStart } from '../inbound-batch.js';
import { frameHeld, leaseFrame } from '../frame-lease.js';
import { PacketSubject } from '../pipeline/packet-subject.js';
import type { Link } from './link.js';
import { TapDevice, type TapStats } from './tap-device.js';
import { AckCoalescer } from './ack-coalescer.js';
import { createTcpCoalescer, type CoalesceStats } from './gro.js';
import { completePartialChecksum, csumHeader, gsoHeader, putFrameHeader, VNET_HDR_LEN, VnetFlags, VnetGso, VnetOffset } from './virtio-net-hdr.js';

export interface TapLinkOptions {
  /** TAP device name (attached when it exists, created otherwise). */
  readonly name: string;
  /** Open the device inside /var/run/netns/<netns> (this process stays where it is). */
  readonly netns?: string;
  /** Set the device MTU. Default: the device's. `link.mtu` is the MTU at open. */
  readonly mtu?: number;
  /** The MAC the stack should use on this link (becomes `link.mac`). Default: none prescribed. */
  readonly mac?: string;
  /** Set the device's own (kernel side) MAC. Default: leave it. */
  readonly deviceMac?: string;
  /** Bring the device up on open. Default true (a TAP link that is down carries nothing). */
  readonly up?: boolean;
  /** Most frames read per wake-up. Default 256. */
  readonly batchLimit?: number;
  /** Most frames waiting for the fd to become writable. Default 1024. */
  readonly writeQueueLimit?: number;
  /** Busy-poll window after each batch, in microseconds (TapDeviceOptions.busyPollUs). Default 0 (off). */
  readonly busyPollUs?: number;
  /** Bytes of written frames the kernel may hold (TapDeviceOptions.sendBuffer). Default: tun's own (no limit). */
  readonly sendBuffer?: number;
  /**
   * Drop a pure TCP ACK that a later pure ACK of the same connection, sent while the same
   * inbound batch is processed, supersedes (see ack-coalescer.ts). Default true.
   */
  readonly coalesceAcks?: boolean;
  /**
   * Checksum and TCP segmentation offload with the kernel (IFF_VNET_HDR,
   * TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6): the kernel hands over its TCP, over IPv4 and IPv6, as
   * segments of up to 64 KiB with partial checksums (their
   * checksums are vouched for through Link.checksumVerified), and the stack's TCP sends large
   * segments of up to 64 KiB the kernel cuts (Link.maxGsoBytes). Default true,
   * unless the environment variable RX_NETSTACK_TAP_OFFLOAD is `0` (for comparisons).
   */
  readonly offload?: boolean;
  /**
   * Without offload (frames arrive MTU-sized): coalesce consecutive in-order TCP segments of one
   * flow read in the same batch into one segment before the stack sees them (gro.ts), so the
   * stack runs once per run. Default true.
   */
  readonly coalesceReceived?: boolean;
  /**
   * Read the next batch into the same slab memory as the last one (still in the CPU's cache)
   * when the stack proved that nothing keeps a view of any of its frames (streams/frame-lease.ts:
   * TCP data to an established connection whose reader copies or keeps nothing, such as
   * `relayTo` into a connection or the discard service). Any frame held elsewhere keeps the
   * whole batch's memory as before. Never with receive coalescing (`coalesceReceived` without
   * offload). Default true.
   */
  readonly recycleSlabs?: boolean;
}

export interface TapLinkStats extends TapStats {
  /** Sends dropped because the link was already closed. */
  txAfterClose: number;
  /** Pure ACKs not written because a later ACK of the same batch superseded them. */
  txAcksCoalesced: number;
  /** Large TCP segments written as one frame for the kernel to cut (TSO, virtio_net_hdr GSO TCPV4 or TCPV6). */
  txSuperFrames: number;
  /** Frames written as headers + a payload gathered from the TCP send buffer (one writev, no copy). */
  txGathered: number;
  /** Frames received as one large (GSO) TCP segment. */
  rxSuperFrames: number;
  /** Frames with a GSO type we did not ask for (dropped). */
  rxGsoDropped: number;
  /** Received TCP segments handed up inside a coalesced one (coalesceReceived), and those made. */
  rxSegmentsCoalesced: number;
  rxCoalescedFrames: number;
}

/** What a large TCP segment may be, IPv4 header included: the IPv4 total length's limit. */
const MAX_GSO_BYTES = 0xffff;

/**
 * Received frames at least this long have their partial checksums vouched for (Link.checksumVerified)
 * through a WeakSet entry instead of completed: summing a short frame is cheaper than the entry.
 * A short one is completed and then vouched for through a one-frame slot (see `vouched`).
 */
const MARK_ABOVE = 512;

// Where acceptOffloaded looks in a received frame and what it looks for, composed once from the
// wire modules' names: per-frame code reads only module-level numbers (ipv4-tcp-frame.ts says why).
const ETHERTYPE_AT = EthernetOffset.TYPE;
const ETHERTYPE_IPV4 = EtherType.IPV4;
const ETHERTYPE_IPV6 = EtherType.IPV6;
const IP_AT = ETHERNET_HEADER_LEN;
const VER_IHL_AT = IP_AT + Ipv4Offset.VER_IHL;
const PROTOCOL_AT = IP_AT + Ipv4Offset.PROTOCOL;
/** IPv6: the fixed header's length (the transport right after it when Next Header names it) and Next Header's offset. */
const IPV6_HEADER = IPV6_HEADER_LEN;
const IPV6_NEXT_HEADER = Ipv6Offset.NEXT_HEADER;
const TCP = IpProtocol.TCP;
const TCP_CHECKSUM = TcpOffset.CHECKSUM;
const UDP = IpProtocol.UDP;
const UDP_CHECKSUM = UdpOffset.CHECKSUM;
/** The received virtio_net_hdr's fields acceptOffloaded reads (little-endian 16-bit ones). */
const VNET_FLAGS = VnetOffset.FLAGS;
const VNET_GSO_TYPE = VnetOffset.GSO_TYPE;
const VNET_CSUM_START = VnetOffset.CSUM_START;
const VNET_CSUM_OFFSET = VnetOffset.CSUM_OFFSET;

/** Offload unless told otherwise (option, else RX_NETSTACK_TAP_OFFLOAD=0). */
/** @internal */
export function offloadWanted(option: boolean | undefined): boolean {
  if (option !== undefined) return option;
  return process.env.RX_NETSTACK_TAP_OFFLOAD !== '0';
}

export interface TapLink extends Link {
  readonly device: TapDevice;
  readonly layer: 'ethernet' | 'ip';
  stats(): TapLinkStats;
  /**
   * Says that the inbound frame being handled was answered other than through this link (a NAT
   * handed it to a host socket, whose reply will come back through that socket), so the
   * device's one-read-per-wake-up rule for request/response counts it as answered
   * (TapDevice.answeredElsewhere). Outside the link's inbound batch it does nothing.
   */
  answeredElsewhere(): void;
  /**
   * Errors with the device's coded Error when the device fails (deleted under us...), as
   * `frames$` does; completes on close. It carries no frames: a program that only watches for
   * the failure watches this, not `frames$`, whose subscribers are shown every frame (a second
   * subscriber of `frames$` keeps a received batch's memory from being reused: `recycleSlabs`).
   */
  readonly failed$: Observable<never>;
}

/** Opens the TAP device and wraps it as a Link; throws the device's coded Error on failure. */
/**
 * Opens a device with offload when asked (`option`, else RX_NETSTACK_TAP_OFFLOAD), by default
 * with offload but falling back to a plain device when the kernel refuses it (an old or unusual
 * tun driver answers TUNSETOFFLOAD or IFF_VNET_HDR with EINVAL): TAP and TUN links alike.
 */
export function openWithOffload<D>(open: (offload: boolean) => D, option: boolean | undefined): D {
  if (option !== undefined || !offloadWanted(undefined)) return open(offloadWanted(option));
  try {
    return open(true);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'EINVAL' && code !== 'EOPNOTSUPP' && code !== 'ENOTTY') throw error;
    return open(false);
  }
}

export function tapLink(options: TapLinkOptions): TapLink {
  let mac: Uint8Array | undefined;
  if (options.mac !== undefined) {
    mac = parseMac(options.mac);
    if (mac === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `bad MAC address "${options.mac}"`);
  }
  const open = (offload: boolean): TapDevice =>
    new TapDevice({
      name: options.name,
      netns: options.netns,
      mtu: options.mtu,
      mac: options.deviceMac,
      up: options.up ?? true,
      batchLimit: options.batchLimit,
      writeQueueLimit: options.writeQueueLimit,
      busyPollUs: options.busyPollUs,
      sendBuffer: options.sendBuffer,
      offload,
    });
  const device = openWithOffload(open, options.offload);
  return deviceLink(device, { mac, coalesceAcks: options.coalesceAcks, coalesceReceived: options.coalesceReceived, recycleSlabs: options.recycleSlabs, layer: 'ethernet' });
}

/**
 * @internal The Link over an open TAP or TUN device, shared by `tapLink` and `tunLink`: read
 * batches to `frames$`, the write batching, offload headers. `layer` 'ip' (TUN): packets carry
 * no Ethernet header, so ACK coalescing (which reads Ethernet offsets) is off, and the TCP merge
 * reads bare IPv4 packets.
 */
export function deviceLink(device: TapDevice, options: { readonly mac: Uint8Array | undefined; readonly coalesceAcks: boolean | undefined; readonly coalesceReceived?: boolean | undefined; readonly recycleSlabs?: boolean | undefined; readonly layer: 'ethernet' | 'ip' }): TapLink {
  const mac = options.mac;
  const ipLayer = options.layer === 'ip';
  /** Where the IP header starts in a frame (its version nibble says which family). */
  const ipAt = ipLayer ? 0 : IP_AT;
  const frames = new PacketSubject<Uint8Array>();
  const name = device.name;
  // Read once: the stack may consult `mtu` per packet, and an ioctl each time would cost.
  const mtu = device.mtu;
  let txAfterClose = 0;

  // Frames wait here and go out together: those sent while an inbound batch is processed (the
  // replies to it) when the batch is done, others at the end of the current task (a microtask),
  // so one call into the addon carries them all, and superseded ACKs are dropped on the way.
  const offload = device.offload;
  const coalescer = options.coalesceAcks === false || ipLayer ? undefined : new AckCoalescer();
  const pending: Array<Uint8Array | null> = [];
  /** Per pending frame: undefined, or the payload lent behind it (sendGathered: `pending` holds its headers). */
  const tails: Array<Uint8Array | undefined> = [];
  /** Per pending frame: -1, or its partial checksum as csumStart * 256 + csumOffset. */
  const partial: number[] = [];
  /** Per pending frame: 0, or the gsoSize of a large TCP segment for the kernel to cut. */
  const gso: number[] = [];
  let txSuperFrames = 0;
  let txGathered = 0;
  let rxSuperFrames = 0;
  let rxGsoDropped = 0;
  let inBatch = false;
  let flushQueued = false;
  // What one write hands the addon, kept from flush to flush (the addon copies what it must
  // queue and keeps no reference): the pieces of the frames in order, flat, and how many pieces
  // each frame has (writeBatch's flat form: no array per frame for the addon to look into).
  const pieces: Uint8Array[] = [];
  let counts = new Uint8Array(64);
  let frameCount = 0;
  const addFrame = (n: number): void => {
    if (frameCount === counts.length) {
      const grown = new Uint8Array(counts.length * 2);
      grown.set(counts);
      counts = grown;
    }
    counts[frameCount++] = n;
  };
  /**
   * Writes what is pending, all in one call into the addon, which writes each frame at once or
   * queues a copy, so nothing refers to the pieces (a lent payload among them) afterwards.
   */
  const flush = (): void => {
    flushQueued = false;
    if (single !== undefined) {
      // The one complete frame of this task or batch (a request/response path's reply): written
      // by the addon's one-argument writer, no list or piece made.
      const frame = single;
      single = undefined;
      if (device.closed) txAfterClose++;
      else device.write(frame);
      return;
    }
    if (roomBuf !== undefined) {
      // The same, for a frame with room in front (sendInRoom): its virtio_net_hdr written there,
      // header and frame go as one piece.
      const buf = roomBuf;
      roomBuf = undefined;
      if (device.closed) txAfterClose++;
      else {
        const at = roomHead - VNET_HDR_LEN;
        const csum = roomCsum;
        putFrameHeader(buf, at, csum < 0 ? -1 : csum >>> 8, csum & 0xff);
        device.writeSpan(buf, at, roomEnd);
      }
      return;
    }
    if (pending.length === 0) return;
    if (device.closed) {
      for (const f of pending) if (f !== null) txAfterClose++;
    } else {
      let headerPairs = 0;
      for (let i = 0; i < pending.length; i++) {
        const f = pending[i];
        if (f === null) continue;
        const p = partial[i];
        const tail = tails[i];
        if (p < 0) {
          // A complete frame: alone (with offload the addon puts an all-zero virtio_net_hdr in
          // front), or its headers and its lent payload (behind an explicit one with offload).
          if (tail === undefined) {
            pieces.push(f);
            addFrame(1);
          } else if (offload) {
            pieces.push(NO_OFFLOAD_HEADER, f, tail);
            addFrame(3);
          } else {
            pieces.push(f, tail);
            addFrame(2);
          }
          continue;
        }
        // With offload: behind the shared NEEDS_CSUM header, or a GSO one for a large TCP segment.
        if (gso[i] > 0) {
          txSuperFrames++;
          pieces.push(gsoHeader(f, p >>> 8, p & 0xff, gso[i], ipAt));
        } else {
          pieces.push(csumHeader(p >>> 8, p & 0xff));
        }
        pieces.push(f);
        if (tail === undefined) {
          addFrame(2);
          headerPairs++;
        } else {
          pieces.push(tail);
          addFrame(3);
        }
      }
      // One frame (a request/response path's reply): the addon's one- and two-argument writers.
      if (frameCount === 1 && counts[0] === 1) device.write(pieces[0]);
      else if (frameCount === 1 && headerPairs === 1) device.write(pieces[1], pieces[0]);
      else if (frameCount > 0) device.writeBatch(pieces, counts.subarray(0, frameCount));
      // Hold no frame (nor a large segment's header) until the next flush.
      emptyArray(pieces);
      frameCount = 0;
    }
    // Emptied keeping their storage: a flush per packet on request/response paths.
    emptyArray(pending);
    emptyArray(partial);
    emptyArray(gso);
    emptyArray(tails);
    coalescer?.reset();
  };

  /**
   * The first complete frame sent while nothing is pending, held here rather than in the lists:
   * most flushes on request/response paths write one frame. A second frame moves it to the
   * lists first (order, and the ACK coalescer, see both).
   */
  let single: Uint8Array | undefined;
  /**
   * The same for a frame given with room in front (sendInRoom, with offload): `buf[roomHead,
   * roomEnd)`, its partial checksum as in `partial` (-1: complete). At most one of `single` and
   * this is set.
   */
  let roomBuf: Uint8Array | undefined;
  let roomHead = 0;
  let roomEnd = 0;
  let roomCsum = -1;
  /** `tail`: a payload lent behind `frame`'s headers (sendGathered); the ACK coalescer reads only headers. */
  const enqueue = (frame: Uint8Array, csum: number, gsoSize: number, tail?: Uint8Array): void => {
    if (single !== undefined) {
      const first = single;
      single = undefined;
      enqueue(first, -1, 0);
    } else if (roomBuf !== undefined) {
      const first = roomBuf;
      roomBuf = undefined;
      enqueue(first.subarray(roomHead, roomEnd), roomCsum, 0);
    }
    const index = pending.length;
    if (coalescer === undefined) pending.push(frame);
    else coalescer.push(pending, frame);
    partial[index] = csum;
    gso[index] = gsoSize;
    tails[index] = tail;
    if (!inBatch && !flushQueued) {
      flushQueued = true;
      atEndOfTask(flush);
    }
  };

  /**
   * Frames whose transport checksum this link vouches for (see Link.checksumVerified). Without
   * offload: the frames receive coalescing built (gro.ts), in a WeakSet keyed by the frame
   * object, so nothing is retained once the frame is garbage.
   */
  const verified = new WeakSet<Uint8Array>();
  /**
   * The last short frame vouched for, instead of a WeakSet entry: a frame is handed up alone
   * and the stack is done with it before the next one is looked at, so while the stack asks
   * about a frame it is this one. A small request's TCP or UDP checksum completed here is not
   * summed a second time by the transport.
   */
  let vouched: Uint8Array | undefined;
  /**
   * With offload, where in this device's receive slabs the frames it vouches for start: per
   * slab (an ArrayBuffer) the byte offsets of those frames, in the order read (increasing: a
   * device fills a slab front to back and never returns to it).
   * A list per slab rather than a mark per frame: a WeakSet entry per frame (an ephemeron that
   * V8's scavenges must process) cost about 5 % of the process's CPU in bulk to the stack
   * (docs/history/topics.md "Bulk to the stack, session 6"). A view of the same bytes from the
   * same start is the same
   * frame; a copy, or a view starting anywhere else, is not vouched for.
   */
  const vouchedStarts = new WeakMap<ArrayBuffer, number[]>();
  let lastSlab: ArrayBuffer | undefined;
  let lastStarts: number[] = [];
  /** Vouches for a frame the device delivered (in the order read). */
  const vouch = (frame: Uint8Array): void => {
    const buffer = bufferOf(frame) as ArrayBuffer;
    if (buffer !== lastSlab) {
      lastSlab = buffer;
      let starts = vouchedStarts.get(buffer);
      if (starts === undefined) vouchedStarts.set(buffer, (starts = []));
      lastStarts = starts;
    }
    lastStarts.push(byteOffsetOf(frame));
  };
  /** Link.checksumVerified with offload. */
  const vouchedInSlab = (frame: Uint8Array): boolean => {
    if (frame.length < MARK_ABOVE) return false; // small ones were completed instead
    const buffer = bufferOf(frame);
    const starts = buffer === lastSlab ? lastStarts : vouchedStarts.get(buffer as ArrayBuffer);
    return starts !== undefined && holds(starts, byteOffsetOf(frame));
  };
  /**
   * Forgets what was vouched for in the batch starting with `first`, whose memory the device
   * reads the next batch into: a frame of that batch starting where one of this did is another
   * frame. This batch's starts are the last of its slab's list (a slab is filled front to back,
   * and a recycled region is the last one filled).
   */
  const forgetVouched = (first: Uint8Array, buffer: ArrayBufferLike = bufferOf(first)): void => {
    const starts = buffer === lastSlab ? lastStarts : vouchedStarts.get(buffer as ArrayBuffer);
    if (starts === undefined) return;
    const from = byteOffsetOf(first);
    while (starts.length > 0 && starts[starts.length - 1] >= from) starts.pop();
  };

  /**
   * With offload, the received frames' headers are read where the device left them, in front
   * of each frame (TapDevice.headersInPlace: no view per frame): through a view of the whole
   * receive slab, made when a batch comes in another slab than the last.
   */
  let headerSlab: ArrayBufferLike | undefined;
  let headerBytes: Uint8Array = new Uint8Array(0);
  const headerAt = (frame: Uint8Array, buffer: ArrayBufferLike): number => {
    if (buffer !== headerSlab) {
      headerSlab = buffer;
      headerBytes = new Uint8Array(buffer);
    }
    return byteOffsetOf(frame) - VNET_HDR_LEN;
  };

  /** What the virtio_net_hdr (in `hb` from `ha`) says about a received frame; false: drop it. */
  const acceptOffloaded = (frame: Uint8Array, hb: Uint8Array, ha: number): boolean => {
    const gso = hb[ha + VNET_GSO_TYPE] & ~VnetGso.ECN;
    if (gso !== VnetGso.NONE) {
      if (gso !== VnetGso.TCPV4 && gso !== VnetGso.TCPV6) {
        rxGsoDropped++;
        return false;
      }
      rxSuperFrames++;
    }
    const flags = hb[ha + VNET_FLAGS];
    if ((flags & VnetFlags.NEEDS_CSUM) !== 0) {
      const start = hb[ha + VNET_CSUM_START] | (hb[ha + VNET_CSUM_START + 1] << 8);
      const offset = hb[ha + VNET_CSUM_OFFSET] | (hb[ha + VNET_CSUM_OFFSET + 1] << 8);
      if (start + offset + 2 > frame.length) {
        rxGsoDropped++;
        return false;
      }
      // Large TCP or UDP right after a plain IPv4 header or IPv6's fixed header: the stack may
      // skip the check (the kernel sent it and never summed the data). Small ones, and anything
      // else: the checksum is completed here, which costs less than the mark and keeps the
      // frame valid wherever it goes; a small one is then vouched for through the one slot.
      const transport = ipLayer ? isIpTransportAt(frame, start, offset) : isEthernetTransportAt(frame, start, offset);
      if (transport && frame.length >= MARK_ABOVE) {
        vouch(frame);
        return true;
      }
      completePartialChecksum(frame, start, offset);
      vouched = transport ? frame : undefined;
    } else if ((flags & VnetFlags.DATA_VALID) !== 0) {
      if (frame.length >= MARK_ABOVE) vouch(frame);
      else vouched = frame;
    }
    return true;
  };

  // Receive coalescing (gro.ts), where the device hands over MTU-sized frames (no offload).
  const coalesce = offload || options.coalesceReceived === false ? undefined : createTcpCoalescer(options.layer);
  const groStats: CoalesceStats = { coalesced: 0, runs: 0 };

  const failed = new Subject<never>();
  device.onError((error) => {
    failed.error(error);
    frames.error(error);
  });
  // Coalesced frames are rebuilt in the batch's memory and may outlive it (gro.ts): never reused.
  const recycle = options.recycleSlabs !== false && coalesce === undefined;
  // With offload, the headers are read in front of the frames (see headerAt).
  if (offload) device.headersInPlace();
  // The batch's array is not kept past the callback below: the device hands every batch in one.
  device.reuseBatchArray();
  device.onFrames((batch, headers, time, slab) => {
    inBatch = true;
    // The addon's reading of the clock for this wake-up becomes the stack's for the batch.
    inboundBatchStart(time);
    // Held unless every frame is released by the one path that consumed it (frame-lease.ts),
    // and only while the stack is the one observer of `frames$` (a user's second subscriber
    // sees every frame; asked after each frame, since one may come during the batch).
    let held = !recycle;
    // The frames' ArrayBuffer as the device knows it, so that no frame's is asked for
    // (`.buffer` is a call into the runtime, two per request/response exchange); coalesced
    // frames may lie elsewhere.
    const buffer = coalesce === undefined ? slab : undefined;
    try {
      if (coalesce !== undefined) batch = coalesce(batch, verified, groStats);
      for (let i = 0; i < batch.length; i++) {
        if (offload) {
          let ok: boolean;
          if (headers !== undefined) ok = acceptOffloaded(batch[i], headers[i], 0);
          else {
            const at = headerAt(batch[i], buffer ?? bufferOf(batch[i])); // first: it changes headerBytes when the slab changed
            ok = acceptOffloaded(batch[i], headerBytes, at);
          }
          if (!ok) continue;
        }
        leaseFrame(batch[i], buffer ?? bufferOf(batch[i]));
        frames.next(batch[i]);
        if (frameHeld() || frames.observers.length !== 1) held = true;
      }
    } finally {
      vouched = undefined;
      // Ends the stack's clock task (and stamps the segments sent) before the replies are
      // written; what the batch's end sends (the TCP layer's deferred ACKs) is still a reply
      // of the batch, queued for the flush below.
      try {
        inboundBatchEnd();
      } finally {
        inBatch = false;
        flush();
      }
    }
    // The replies are written (the addon writes each frame at once or queues a copy), and no
    // view of the batch is kept: its memory may take the next batch.
    if (!held && batch.length > 0 && !device.closed) {
      forgetVouched(batch[0], buffer ?? bufferOf(batch[0]));
      device.recycleBatch();
    }
  });

  // Transmit checksum offload: only a device with the virtio_net_hdr can finish a checksum.
  const sendPartial = (frame: Uint8Array, csumStart: number, csumOffset: number, gsoSize?: number): void => {
    if (device.closed) {
      txAfterClose++;
      return;
    }
    if (csumStart > 0xffff || csumOffset > 0xff || csumStart + csumOffset + 2 > frame.length) {
      throw new RangeError(`sendPartial: checksum at ${csumStart}+${csumOffset} outside a ${frame.length}-byte frame`);
    }
    enqueue(frame, csumStart * 256 + csumOffset, gsoSize === undefined ? 0 : gsoSize);
  };
  // A frame as headers + a payload lent by the send buffer (unchanged until the end of the task:
  // data not yet acknowledged), batched like any other frame: a large TCP segment with a partial
  // checksum (offload) too, so the segments an inbound batch of ACKs releases leave in one
  // writeBatch, which the device writes with one system call (io_uring; native/tap-uring.h).
  const sendGathered = (head: Uint8Array, payload: Uint8Array, csumStart: number, csumOffset: number, gsoSize: number): void => {
    if (device.closed) {
      txAfterClose++;
      return;
    }
    if (csumStart < 0) {
      txGathered++;
      enqueue(head, -1, 0, payload);
      return;
    }
    if (csumStart > 0xffff || csumOffset > 0xff || csumStart + csumOffset + 2 > head.length) {
      throw new RangeError(`sendGathered: checksum at ${csumStart}+${csumOffset} outside ${head.length} header bytes`);
    }
    txGathered++;
    enqueue(head, csumStart * 256 + csumOffset, gsoSize, payload);
  };
  // A frame whose packet has room in front of it (Link.sendInRoom): its virtio_net_hdr goes
  // there, so the device writes one piece. Held as the one frame of the task or batch, as
  // `send` holds its first; behind others, a view in the lists like any frame.
  const sendInRoom = (buf: Uint8Array, head: number, end: number, csumStart: number, csumOffset: number): void => {
    if (device.closed) {
      txAfterClose++;
      return;
    }
    if (head < VNET_HDR_LEN || end > buf.length || (csumStart >= 0 && (csumStart > 0xffff || csumOffset > 0xff || head + csumStart + csumOffset + 2 > end))) {
      throw new RangeError(`sendInRoom: a frame at ${head}..${end} of ${buf.length} bytes (checksum at ${csumStart}+${csumOffset}) with ${VNET_HDR_LEN} bytes of room`);
    }
    const csum = csumStart < 0 ? -1 : csumStart * 256 + csumOffset;
    if (single === undefined && roomBuf === undefined && pending.length === 0) {
      roomBuf = buf;
      roomHead = head;
      roomEnd = end;
      roomCsum = csum;
      if (!inBatch && !flushQueued) {
        flushQueued = true;
        atEndOfTask(flush);
      }
      return;
    }
    enqueue(buf.subarray(head, end), csum, 0);
  };
  // One object literal with every member present (sendPartial undefined without offload), so
  // the link has one shape whatever its options: it is on every frame's path, and the offloaded
  // TAP figures proved sensitive to such details (docs/history/topics.md "The composed stack").
  return {
    name,
    device,
    mac,
    mtu,
    layer: options.layer,
    frames$: frames.asObservable() as Observable<Uint8Array>,
    failed$: failed.asObservable(),
    send(frame: Uint8Array): void {
      if (device.closed) {
        txAfterClose++;
        return;
      }
      if (single === undefined && roomBuf === undefined && pending.length === 0) {
        single = frame;
        if (!inBatch && !flushQueued) {
          flushQueued = true;
          atEndOfTask(flush);
        }
        return;
      }
      enqueue(frame, -1, 0);
    },
    sendPartial: offload ? sendPartial : undefined,
    sendGathered,
    frameRoom: offload ? VNET_HDR_LEN : undefined,
    sendInRoom: offload ? sendInRoom : undefined,
    pollInput(): void {
      if (!inBatch) device.drain();
    },
    // The largest IPv4 packet TSO takes (its total length field's limit): the kernel cuts it.
    maxGsoBytes: offload ? MAX_GSO_BYTES : 0,
    stats(): TapLinkStats {
      return {
        ...device.stats(),
        txAfterClose,
        txAcksCoalesced: coalescer?.coalesced ?? 0,
        txSuperFrames,
        txGathered,
        rxSuperFrames,
        rxGsoDropped,
        rxSegmentsCoalesced: groStats.coalesced,
        rxCoalescedFrames: groStats.runs,
      };
    },
    close(): void {
      if (device.closed) return;
      flush(); // what was sent before close (an RST, a FIN) still goes out
      device.close();
      frames.complete();
      failed.complete();
    },
    checksumVerified: offload
      ? (frame: Uint8Array): boolean => frame === vouched || vouchedInSlab(frame)
      : (frame: Uint8Array): boolean => frame === vouched || verified.has(frame),
    answeredElsewhere(): void {
      if (inBatch) device.answeredElsewhere();
    },
  };

}

/** Whether the increasing list `sorted` holds `value` (binary search). */
function holds(sorted: readonly number[], value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid];
    if (v === value) return true;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** The virtio_net_hdr of a frame that asks nothing of the device (all zero; only read). */
const NO_OFFLOAD_HEADER = new Uint8Array(VNET_HDR_LEN);

/** True when `offset` from the start of a TCP (UDP) header is its checksum field. */
function isTransportChecksum(protocol: number, offset: number): boolean {
  return (protocol === TCP && offset === TCP_CHECKSUM) || (protocol === UDP && offset === UDP_CHECKSUM);
}

/**
 * An Ethernet frame whose partial checksum is TCP's or UDP's, right after a plain IPv4 header
 * (IHL: the low nibble, in 32-bit words) or IPv6's fixed header (Next Header naming it: no
 * extension headers in between).
 */
function isEthernetTransportAt(frame: Uint8Array, start: number, offset: number): boolean {
  const type = (frame[ETHERTYPE_AT] << 8) | frame[ETHERTYPE_AT + 1];
  if (type === ETHERTYPE_IPV4) return start === IP_AT + ((frame[VER_IHL_AT] & 0x0f) << 2) && isTransportChecksum(frame[PROTOCOL_AT], offset);
  return type === ETHERTYPE_IPV6 && start === IP_AT + IPV6_HEADER && isTransportChecksum(frame[IP_AT + IPV6_NEXT_HEADER], offset);
}

/** A bare IP packet (TUN) whose partial checksum is TCP's or UDP's, right after its IPv4 header or IPv6's fixed header. */
function isIpTransportAt(packet: Uint8Array, start: number, offset: number): boolean {
  if (packet[0] >>> 4 === 6) return start === IPV6_HEADER && isTransportChecksum(packet[IPV6_NEXT_HEADER], offset);
  return start === ((packet[Ipv4Offset.VER_IHL] & 0x0f) << 2) && isTransportChecksum(packet[Ipv4Offset.PROTOCOL], offset);
}
