/**
 * Loads the rx_tap N-API addon (native/, built into build/Release/rx_tap.node by node-gyp during
 * `npm install`) and describes its shape. Loaded on first use, so importing the package on a
 * machine without the addon fails only when a TAP device is actually opened.
 */
import type { HeapPagesMode, HeapPagesStats } from './heap-pages.js';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetstackError } from '../../src/errors.js';

/** `write()` results of the addon; negative results are `-errno`. */
export const WRITE_SENT = 0;
export const WRITE_QUEUED = 1;
export const WRITE_DROPPED = 2;

export interface NativeTapStats {
  rxFrames: number;
  rxBytes: number;
  /** Wake-ups that delivered at least one frame (rxFrames / rxBatches = mean batch). */
  rxBatches: number;
  txFrames: number;
  txBytes: number;
  /** Frames waiting in the write queue now. */
  txQueued: number;
  /** Frames that ever had to wait in the write queue. */
  txQueuedTotal: number;
  /** Frames dropped because the write queue was full (or still queued at close). */
  txDropped: number;
  /** Frames the kernel refused (EIO while the device is down, EINVAL for a runt, ...). */
  txErrors: number;
  /** Batches read while the busy-poll window was open (TapDeviceOptions.busyPollUs), with either wait. */
  busyPollHits: number;
  /**
   * The wait between wake-ups in the handle's own hands (`ownSleep`, which `rx-netstack nat`
   * turns on; 0 otherwise): waits that returned a frame or a host socket's event, waits handed
   * back to libuv's loop, events found while its busy-poll window was open (no sleep), waits
   * whose host sockets' events came through their epoll set polled as one fd (more than 8
   * sockets watched), waits with that many sockets served instead by the two sockets served
   * last, polled by their own fds beside the set (no epoll_wait of the set), and host sockets'
   * events dispatched from the wait by their own fds (native/tap-own-wait.c).
   */
  ownSleeps: number;
  ownSleepExits: number;
  ownBusyHits: number;
  ownSetWakes: number;
  ownHotWakes: number;
  hostDirectDispatches: number;
  /**
   * Reads that found no frame (EAGAIN): the read that ends a batch. Under request/response
   * (each wake-up one small frame in, a small answer out) most wake-ups read one frame and
   * skip it; every eighth probes for a backlog with a batch read to EAGAIN, made after its
   * frame was handed over and answered (native/tap-read.c, RX_SINGLE_AFTER, probe_after). A frame
   * answered through another socket counts when `TapDevice.answeredElsewhere()` says so.
   */
  rxEmptyReads: number;
  /** Those probes (each a batch read after the wake-up's one frame was answered). */
  rxProbes: number;
  /** Probes that found frames waiting (handed over as one batch each, not counted in `rxRereads`). */
  rxProbeHits: number;
  /**
   * Frames read in the same wake-up right after the answer to the frame before went out through
   * the device: on a CPU shared with the peer, the peer runs during our write and sends its next
   * request before we sleep (native/tap-read.c, RX_EXCHANGES_PER_WAKE: up to 16 per wake-up;
   * after 4 such reads in a row found nothing, every 16th chance is taken).
   */
  rxRereads: number;
  /** Such reads that found nothing (not in `rxEmptyReads`). */
  rxRereadMisses: number;
  /**
   * Such reads not made: after four in a row read a frame that drew nothing (the peer's ACK of
   * our answer), that frame is left for the next wake-up, to come with the peer's next frame
   * in one delivery (native/tap-read.c, RX_DEFER_AFTER).
   */
  rxRereadsDeferred: number;
  /**
   * Pairs read as one exchange and delivered together (the peer's ACK and its next frame, queued
   * while it ran on the way out of our write), by a re-read or by a wake-up's first reads, and
   * pair reads whose second frame was not there (native/tap-read.c, RX_PAIR_MISSES).
   */
  rxPairReads: number;
  rxPairMisses: number;
  /**
   * Batches whose slab memory the next batch was read into, because nothing kept a view of their
   * frames (TapDevice.recycleBatch): the kernel's copy then lands in memory still in cache.
   */
  rxSlabReuses: number;
  /**
   * Batches given back as for `rxSlabReuses` whose read was cut short by their slab's end (no
   * room for another 64 KiB read) and that did not start at its beginning: instead of being
   * read into again (which would cut every later batch as short) their slab was retired and the
   * next batch read into a fresh one.
   */
  rxSlabMoves: number;
  /**
   * Frames (in rxFrames) relayed by the device's UDP flow table (the nat's offloaded flows,
   * native/udp-flow.h) instead of going to JavaScript.
   */
  rxFlowFrames: number;
  /**
   * 1 when a writeBatch's frames go out through io_uring, several per system call
   * (native/tap-uring.h); 0 when turned off (TapDeviceOptions.uring) or refused by the kernel.
   */
  txUring: number;
  /** io_uring_enter calls that wrote several frames of one writeBatch. */
  txSubmits: number;
  /** Frames (in txFrames) those calls wrote: txUringFrames / txSubmits frames per call. */
  txUringFrames: number;
  /**
   * Frames such a call wrote after an earlier frame of it found the device full and was queued
   * (so they left before it). Needs a small device send buffer (TapDeviceOptions.sendBuffer); 0 otherwise.
   */
  txReordered: number;
  /** Receive slabs (2 MiB each) alive: being filled, or held by frames JavaScript still references. */
  rxSlabs: number;
  /** Of them, those whose bytes are not in V8's external memory count (at most 32; see native/rx-slab.h). */
  rxSlabsHidden: number;
  /**
   * Bytes of dead hidden slabs not yet given back to V8's external memory count: it is below
   * the truth by this much, at most 1 GiB, given back in one sum (see native/rx-slab.h).
   */
  rxSlabBytesOwed: number;
}

/** One open TAP queue. Methods throw Errors with `code`, `errno` and `syscall` like node:fs. */
export interface NativeTapHandle {
  readonly name: string;
  readonly closed: boolean;
  /** True when the device existed before we attached (a persistent device). */
  readonly existed: boolean;
  /** Frame lengths of the batch being delivered (shared with C, overwritten per batch). */
  readonly lengths: Uint32Array;
  /**
   * The batch being delivered (shared with C, overwritten per batch): `[byte offset of its first
   * frame in the slab handed to onFrames, frame count, answered elsewhere]`; the frames follow
   * each other. JavaScript sets the third slot to 1 during onFrames when the frame was answered
   * other than by a write to the device (TapDevice.answeredElsewhere); C clears it per batch.
   */
  readonly batch: Uint32Array;
  /**
   * `[CLOCK_MONOTONIC in ms]` (uv_hrtime / 1e6, the clock behind performance.now()), read by C
   * when it hands a batch to onFrames (shared with C, overwritten per batch): the batch's time,
   * with no call into the runtime for it (clock-base.ts converts it to the stack's clock).
   */
  readonly wakeTime: Float64Array;
  /** Opened with IFF_VNET_HDR: each delivered frame starts with a 10-byte virtio_net_hdr. */
  readonly vnetHdr: boolean;
  /** Opened with IFF_TUN: IP packets without an Ethernet header. */
  readonly tun: boolean;
  rename(name: string): void;
  getMac(): Uint8Array;
  setMac(mac: Uint8Array): void;
  getMtu(): number;
  setMtu(mtu: number): void;
  getFlags(): number;
  setUp(up: boolean): void;
  setSndbuf(bytes: number): void;
  holdWrites(hold: boolean): void;
  poisonRecycled(byte: number): void;
  /** TUNSETOFFLOAD (TunOffload flags); only on a handle opened with `vnetHdr`. */
  setOffload(flags: number): void;
  /** `onFrames(slab)`: a batch was read into `slab` where `batch` and `lengths` say. */
  start(onFrames: (slab: ArrayBuffer) => void, onError: (error: Error) => void): void;
  stop(): void;
  /**
   * The wait after a wake-up's frames in the handle's own hands (true) or libuv's (false, the
   * default): poll(2) of the device, the addon's host sockets and libuv's backend fd,
   * until libuv's next timer; frames and host sockets' events are served there, and anything
   * else of libuv's ends the wait (native/tap-own-wait.c). Saves per wake-up the poll
   * without a timeout that libuv makes before every sleep under Node's idle-time metrics, the
   * host sockets' set's epoll_wait and a turn of the loop. Up to 8 watched host sockets are
   * polled by their own fds, more through their epoll set as one fd. The handle's busy-poll
   * window (the open option `busyPollUs`) makes the wait poll without blocking while it is open.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `on` is not a boolean; `ERR_INVALID_ARG_VALUE`
   * for a second argument (the busy-poll window it once set is the open option
   * TapDeviceOptions.busyPollUs).
   */
  ownSleep(on: boolean): void;
  /** Reads and delivers what waits now, as a wake-up would (not from inside a delivery); the frames read. */
  drain(): number;
  write(frame: Uint8Array): number;
  /**
   * `write` bound to this handle: the same result, called as a plain function (no `this`), a
   * cheaper call per frame. Throws ERR_LINK_CLOSED after close.
   */
  readonly sendFrame: (frame: Uint8Array) => number;
  /**
   * One frame behind its own virtio_net_hdr (one writev), bound like `sendFrame`: what the pair
   * `[header, frame]` is to `writeBatch`. Only on a handle opened with `vnetHdr` (else
   * ERR_INVALID_STATE).
   */
  readonly sendWithHeader: (header: Uint8Array, frame: Uint8Array) => number;
  /**
   * `bytes[start, end)` as one frame in one `write` of one piece, bound like `sendFrame`. With
   * `vnetHdr` the span begins with the frame's own virtio_net_hdr (the caller wrote it into room
   * in front of the frame), so the frame needs no second piece. ERR_OUT_OF_RANGE when the span
   * is outside `bytes` or shorter than the header.
   */
  readonly sendSpan: (bytes: Uint8Array, start: number, end: number) => number;
  /**
   * Writes frames in order. An item is a frame, or a frame gathered from pieces (one writev;
   * with `vnetHdr`, the first piece starts with the virtio_net_hdr). A plain frame gets an
   * all-zero virtio_net_hdr in front when the handle has `vnetHdr`. With `counts`, the flat
   * form: `frames` holds pieces only, frame i being the next `counts[i]` of them (1 to 64), which
   * spares the addon an array per gathered frame; a call whose counts do not add up to the
   * pieces throws (ERR_INVALID_ARG_VALUE) before writing anything.
   */
  writeBatch(frames: ReadonlyArray<Uint8Array | readonly Uint8Array[]>, counts?: Uint8Array): number;
  stats(): NativeTapStats;
  ref(): void;
  unref(): void;
  close(): void;
}

/**
 * A host datagram socket of the addon (native/datagram-socket.c), polled by libuv: 'udp', or
 * 'icmp', the ICMP datagram ("ping") socket, whose constructor throws EACCES when
 * net.ipv4.ping_group_range leaves out this process's group (the kernel sets the echo
 * identifier and checksum). The constructor throws an Error with `code` when the kernel refuses
 * the socket; afterwards nothing throws: results are 0 or -errno.
 */
export interface NativeDatagramSocket {
  /** connect(2) to a host-order IPv4 address and port: 0, or -errno (ENETUNREACH...). */
  connect(address: number, port: number): number;
  /** Sends one datagram, to the connected peer or to `address`/`port`: 0, or -errno. */
  send(data: Uint8Array, address?: number, port?: number): number;
  /**
   * Sends one datagram to the connected peer (0, or -errno, as `send`), then reads one datagram
   * already waiting, the answer of a peer that ran while we sent (on a CPU shared with it, the
   * scheduler switches to the woken peer on the way out of the send), and calls `onMessage()`
   * (or `onError(errno)`) for it before returning: no poll wake-up for it. While such reads find
   * nothing (4 in a row), they are skipped, tried again every 16th call; the answer then comes
   * through the poll as usual.
   */
  sendAndReceive(data: Uint8Array): number;
  /**
   * Offloads the socket's flow to a TUN device's flow table (native/udp-flow.h): the namespace's
   * datagrams of the 4-tuple (addresses host-order) are sent on this socket by the device's read
   * loop, and its answers written to the device (TTL `ttl`, IPv4 IDs from `ipId` + 1; longer
   * than `mtu`: onMessage as before), neither calling JavaScript. 0, or -errno (EEXIST: the
   * 4-tuple is another socket's; EBADF: closed, or not an open TUN handle). An error of the
   * socket takes the flow out and reaches onError.
   */
  offload(tun: NativeTapHandle, client: number, clientPort: number, destination: number, destinationPort: number, ttl: number, ipId: number, mtu: number): number;
  /** The flow goes the JavaScript way again. */
  offloadEnd(): void;
  /**
   * Adds what the flow path relayed since the last call to `out` ([datagrams from the namespace,
   * their payload bytes, datagrams to it, their payload bytes, datagrams either way]) and zeroes
   * it; whether the flow is still offloaded.
   */
  takeFlowCounts(out: Float64Array): boolean;
  ref(): void;
  unref(): void;
  close(): void;
}

/**
 * `onMessage()`: a datagram was read into the module's `datagramReadBuffer`; `datagramRead`
 * says where (see DATAGRAM_READ), valid only during the call (copy what you keep: the buffer
 * is shared by every socket of this thread). No arguments: nothing is made per datagram on the
 * native side. `onError(errno)`: an error the socket reported (ECONNREFUSED after an ICMP port
 * unreachable to a connected UDP socket...).
 */
export type NativeDatagramSocketClass = new (protocol: 'udp' | 'icmp', onMessage: () => void, onError: (errno: number) => void) => NativeDatagramSocket;

/** The slots of the module's `datagramRead`: the datagram's place in `datagramReadBuffer`, and its source. */
export const DATAGRAM_READ = { offset: 0, length: 1, address: 2, port: 3 } as const;

/** What a TcpSocket of the addon tells (see native/tcp-socket.c). */
export interface NativeTcpSocketCallbacks {
  /** The connect ended: 0 connected, else the errno (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT...). */
  onConnect(errno: number): void;
  /**
   * Bytes read, at the start of the module's `tcpReadBuffer`, as many as `tcpRead[0]` (shared
   * by all sockets of this thread, valid during the call). Returns the most bytes the next read
   * may take (0 or false pauses reading until resume(); true: no limit).
   */
  onData(): number | boolean;
  /** The peer's FIN. */
  onEnd(): void;
  /** The socket failed (ECONNRESET, EPIPE...) and is closed. */
  onError(errno: number): void;
  /** The bytes write() kept are all sent. */
  onDrain(): void;
}

/** A host TCP client socket of the addon (native/tcp-socket.c). Nothing throws once made. */
export interface NativeTcpSocket {
  /**
   * Starts a non-blocking connect to a host-order IPv4 address: 0 (onConnect follows), or -errno.
   * With `settle`, a connect the kernel finished within the call (a server on this host: the
   * handshake runs inside connect(2)) returns 1 with no onConnect to follow, or -errno when it
   * was refused there.
   */
  connect(address: number, port: number, settle?: boolean): number;
  /** Sends now what the kernel takes, keeps (copies) the rest: false while bytes wait (onDrain later). */
  write(data: Uint8Array): boolean;
  /**
   * `write`, then, when all of `data` went to the kernel, one read of what the peer has already
   * sent back (on a CPU shared with it, the peer runs on the way out of the send) and `onData()`
   * for it before returning: no poll wake-up for the answer. While such reads find nothing (4 in
   * a row), they are skipped, tried again every 16th call; the poll delivers as usual. The
   * peer's FIN found so goes to `onEnd()` before returning too; an error, to `onError` from the
   * next wake-up.
   */
  writeAndRead(data: Uint8Array): boolean;
  /** FIN once everything written is sent. */
  end(): void;
  /**
   * `end()`, then, when the FIN went out at once, `writeAndRead`'s read (sharing its count of
   * misses): a peer on the same CPU that closes when we do has sent its FIN before this returns
   * (`onEnd()`, or `onData()` for bytes it sent first).
   */
  endAndRead(): void;
  pause(): void;
  /** Reading again; `limit`: the most bytes the next read takes (none without). */
  resume(limit?: number): void;
  /** Closes at once (waiting bytes are dropped); with an RST when `reset`. */
  close(reset?: boolean): void;
  readonly closed: boolean;
}

/**
 * The addon. The host sockets' buffers and arrays are per thread (the main thread and each
 * worker that loads the addon get their own: native/socket-env.h).
 */
export interface NativeTapModule {
  /** What every TcpSocket of this thread reads into (onData(): its first `tcpRead[0]` bytes). */
  tcpReadBuffer: ArrayBuffer;
  /** [length of the read onData() reports]. */
  tcpRead: Uint32Array;
  /** What every DatagramSocket of this thread reads into. */
  datagramReadBuffer: ArrayBuffer;
  /** [offset, length, source address (host order), source port] of the datagram onMessage() reports. */
  datagramRead: Uint32Array;
  TcpSocket: new (callbacks: NativeTcpSocketCallbacks) => NativeTcpSocket;
  DatagramSocket: NativeDatagramSocketClass;

  TapHandle: new (
    name: string,
    netns: string | undefined,
    options: { batchLimit?: number; queueLimit?: number; vnetHdr?: boolean; tun?: boolean; busyPollUs?: number; uring?: boolean },
  ) => NativeTapHandle;
  /** The Error the addon would make for `errno` (positive) in `syscall`. */
  errorFor(errno: number, syscall: string, detail: string): Error & { code: string };
  /** CLOCK_MONOTONIC in ms (uv_hrtime / 1e6), the clock of `TapHandle.wakeTime` (tests). */
  monotonicNow(): number;
  /** V8's count of external memory now, without the receive slabs hidden from it (native/rx-slab.h). */
  externalMemory(): number;
  /**
   * Sets the calling thread's EEVDF slice (us, 100..100000) while it is SCHED_OTHER; the slice
   * then reported (0: the kernel has none per thread), or -errno (native/sched-slice.c).
   */
  setSchedSlice(us: number): number;
  /** The calling thread's slice in us (0: not reported), or -errno. */
  schedSlice(): number;
  /** Where V8 maps its heap pages from now on (native/heap-pages.c; streams/links/heap-pages.ts). */
  setHeapPages(mode: HeapPagesMode): HeapPagesStats;
  heapPages(): HeapPagesStats;
}

let cached: NativeTapModule | undefined;

/** The addon, searched upward from this file (works from the sources and from dist/). */
export function loadTapAddon(): NativeTapModule {
  if (cached !== undefined) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const tried: string[] = [];
  for (let dir = here, i = 0; i < 5; i++, dir = dirname(dir)) {
    for (const kind of ['Release', 'Debug']) {
      const candidate = join(dir, 'build', kind, 'rx_tap.node');
      tried.push(candidate);
      if (existsSync(candidate)) {
        cached = createRequire(import.meta.url)(candidate) as NativeTapModule;
        return cached;
      }
    }
  }
  throw new NetstackError(
    'ENOENT',
    `the rx_tap addon is not built (run \`npm install\` or \`npm run build\`); looked for ${tried.join(', ')}`,
    { syscall: 'dlopen' },
  );
}
