/**
 * A Linux TAP device, with a surface like the `tuntap2` package's Tap: name, mac, mtu and isUp as
 * properties, whole Ethernet frames in and out.
 *
 * Opening attaches to the device NAME when it exists (a persistent device made with
 * `ip tuntap add dev NAME mode tap`) or creates it (it then lives as long as this object stays
 * open). With `netns`, the device is opened inside the network namespace /var/run/netns/NETNS
 * while this process stays in its own: a program in the root namespace can drive a TAP device
 * that exists only inside a test namespace.
 *
 * Frames arrive in batches: every frame ready when the fd wakes up is read at once (up to
 * `batchLimit`) and handed to the `onFrames` callback as one array. Each frame is a view on a
 * 2 MiB receive slab that later batches never write to again, so a receiver may keep it
 * (keeping one frame keeps its whole slab alive; the garbage collector gives the slab back for
 * reuse only when no frame of it is referenced: native/rx-slab.h). Writes go straight to the
 * fd; if the kernel is not ready (EAGAIN) they wait in a bounded queue and are flushed in order
 * when the fd is writable.
 *
 * Errors have Node-style `code`, `errno` and `syscall` (`EPERM` without CAP_NET_ADMIN, `ENOENT`
 * for a missing /dev/net/tun or namespace, `EINVAL` for a bad name, `EBUSY` when another process
 * holds a single-queue device, `ENODEV` once the device is deleted under us).
 *
 * @example
 * const tap = new TapDevice({ name: 'tap0', netns: 'testns', mtu: 1500, up: true });
 * tap.onFrames((frames) => { for (const f of frames) console.log(f.length); });
 * tap.write(frame);
 * tap.close();
 */
import { constants as osConstants } from 'node:os';
import createDebug from 'debug';
import { NetstackError } from '../../src/errors.js';
import { byteOffsetOf } from '../../src/byte-view.js';
import { formatMac, parseMac } from '../../src/mac.js';
import {
  WRITE_QUEUED,
  WRITE_SENT,
  loadTapAddon,
  type NativeTapHandle,
  type NativeTapStats,
} from './tap-native.js';
import { TunOffload, VNET_HDR_LEN } from './virtio-net-hdr.js';
import { clockFromMonotonic } from '../clock-base.js';

const log = createDebug('rx-netstack:link:tap');

/** IFF_UP from <linux/if.h>. */
const IFF_UP = 0x1;
/** IFF_RUNNING: the device has carrier (someone holds its fd). */
const IFF_RUNNING = 0x40;

const { ENODEV, EBADF, ENXIO } = osConstants.errno;
const FATAL_ERRNOS: ReadonlySet<number> = new Set([ENODEV, EBADF, ENXIO]);

export interface TapDeviceOptions {
  /** Device name, 1 to 15 bytes; a pattern such as `tap%d` lets the kernel choose. */
  readonly name: string;
  /** Open the device inside /var/run/netns/<netns>; this process stays in its own namespace. */
  readonly netns?: string;
  /** Set the device's MTU after opening. Default: leave it. */
  readonly mtu?: number;
  /** Set the device's own (kernel side) MAC, `aa:bb:cc:dd:ee:ff` or 6 bytes. Default: leave it. */
  readonly mac?: string | Uint8Array;
  /** Bring the device up (true) or down (false) after opening. Default: leave it. */
  readonly up?: boolean;
  /** Most frames read per fd wake-up (and so per `onFrames` call), 1..4096. Default 256. */
  readonly batchLimit?: number;
  /** Most frames waiting for the fd to become writable; more are dropped. Default 1024. */
  readonly writeQueueLimit?: number;
  /**
   * How many bytes of our written frames the kernel may hold at once (TUNSETSNDBUF, like QEMU's
   * `sndbuf=`), 1..2147483647. The kernel consumes most frames inside write(), but one it keeps
   * (a bridge forwarding it into a slow or full queue) stays charged to the device until it
   * leaves: past this many bytes a write answers EAGAIN, the frame waits in `writeQueueLimit`'s
   * queue, and beyond that it is dropped and counted, so a slow port pushes back instead of
   * letting the kernel's memory grow. Default: leave it (tun's own default has no limit).
   */
  readonly sendBuffer?: number;
  /**
   * Busy polling, opt-in (like Linux's SO_BUSY_POLL): after each batch, keep the event loop from
   * sleeping for this many microseconds, so that a frame arriving within the window is read by a
   * non-blocking poll instead of waking the process from sleep. Trades CPU (the loop spins, other
   * Node work still runs) for latency at low load. 0..1000000; default 0 (off).
   */
  readonly busyPollUs?: number;
  /**
   * Open with IFF_VNET_HDR and take checksum and TCP segmentation offload from the kernel
   * (TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6): frames may then arrive as 64 KiB TCP
   * segments (over IPv4 or IPv6) with
   * partial checksums, described by the virtio_net_hdr that `onFrames` hands over beside each
   * frame, and `writeBatch` may send such frames. Default false (plain frames, full checksums).
   */
  readonly offload?: boolean;
  /**
   * On close, put back the MTU, MAC, name and up/down state a pre-existing (persistent) device
   * had when we attached. Default true. A device we created disappears on close anyway.
   */
  readonly restoreOnClose?: boolean;
  /**
   * Write the frames of one `writeBatch` with io_uring, several in one system call, where the
   * kernel allows it (else one write() each, decided at open; `stats().txUring` says which).
   * A reader of our frames on the same CPU then wakes once per call instead of once per frame.
   * Default true, unless the environment variable RX_NETSTACK_TAP_URING is `0`.
   */
  readonly uring?: boolean;
}

export type TapStats = NativeTapStats;

interface FoundState {
  readonly name: string;
  /** Undefined for a TUN device: it has no link-layer address. */
  readonly mac: Uint8Array | undefined;
  readonly mtu: number;
  readonly up: boolean;
}

/** What `onFrames` calls once per batch (see there). */
export type FramesCallback = (frames: Uint8Array[], headers: Uint8Array[] | undefined, time: number, slab: ArrayBuffer) => void;

/** The slot of the handle's shared `batch` array that says "answered elsewhere" (native/tap-handle.h BATCH_ANSWERED). */
const ANSWERED_SLOT = 2;
/** The `batch` slot that asks the addon to read the next batch into this batch's memory (native/tap-handle.h BATCH_RECYCLE). */
const RECYCLE_SLOT = 3;

export class TapDevice {
  readonly #handle: NativeTapHandle;
  // The handle's shared arrays and bound writer, kept here: one field load each per wake-up.
  readonly #lengths: Uint32Array;
  readonly #batch: Uint32Array;
  readonly #wakeTime: Float64Array;
  readonly #sendFrame: (frame: Uint8Array) => number;
  readonly #sendWithHeader: (header: Uint8Array, frame: Uint8Array) => number;
  readonly #sendSpan: (bytes: Uint8Array, start: number, end: number) => number;
  readonly #netns: string | undefined;
  readonly #created: boolean;
  readonly #found: FoundState | undefined;
  readonly #restoreOnClose: boolean;
  #lastName: string;
  #framesCb: FramesCallback | undefined;
  /** See headersInPlace(). */
  #headersInPlace = false;
  /** See reuseBatchArray(): the one-element `frames` array every batch of one frame is handed in. */
  #batchArray: Uint8Array[] | undefined;
  /**
   * The views of the last batch when its receiver gave its memory back (recycleBatch), with
   * the slab and offset it started at: the next batch is read into that memory, and a frame of
   * it with the same place and length is handed over in the same view (nothing looks at the old
   * one again; see #deliver). Undefined otherwise.
   */
  #recycledViews: Uint8Array[] | undefined;
  #recycledSlab: ArrayBuffer | undefined;
  #recycledOffset = 0;
  readonly #offload: boolean;
  readonly #kind: 'tap' | 'tun';
  #errorCb: ((error: Error) => void) | undefined;
  #closed = false;

  /** Opens (attaches to or creates) the device; throws a coded Error when it cannot. */
  constructor(options: TapDeviceOptions);
  /** @internal `kind` 'tun': a TUN device (see TunDevice), bare IP packets instead of frames. */
  constructor(options: TapDeviceOptions, kind: 'tap' | 'tun');
  constructor(options: TapDeviceOptions, kind: 'tap' | 'tun' = 'tap') {
    const mac = options.mac === undefined ? undefined : toMacBytes(options.mac);
    const sendBuffer = checkSendBuffer(options.sendBuffer);
    const { TapHandle } = loadTapAddon();
    this.#offload = options.offload === true;
    this.#kind = kind;
    this.#handle = new TapHandle(options.name, options.netns, {
      batchLimit: options.batchLimit,
      queueLimit: options.writeQueueLimit,
      vnetHdr: this.#offload,
      tun: kind === 'tun',
      busyPollUs: checkBusyPoll(options.busyPollUs),
      uring: options.uring ?? process.env.RX_NETSTACK_TAP_URING !== '0',
    });
    this.#lengths = this.#handle.lengths;
    this.#batch = this.#handle.batch;
    this.#wakeTime = this.#handle.wakeTime;
    this.#sendFrame = this.#handle.sendFrame;
    this.#sendWithHeader = this.#handle.sendWithHeader;
    this.#sendSpan = this.#handle.sendSpan;
    this.#netns = options.netns;
    this.#created = !this.#handle.existed;
    this.#restoreOnClose = options.restoreOnClose ?? true;
    this.#lastName = this.#handle.name;
    try {
      if (!this.#created) {
        this.#found = {
          name: this.#lastName,
          mac: kind === 'tun' ? undefined : this.#handle.getMac(),
          mtu: this.#handle.getMtu(),
          up: (this.#handle.getFlags() & IFF_UP) !== 0,
        };
      }
      if (this.#offload) this.#handle.setOffload(TunOffload.CSUM | TunOffload.TSO4 | TunOffload.TSO6);
      if (options.mtu !== undefined) this.mtu = options.mtu;
      if (mac !== undefined) this.#handle.setMac(mac);
      if (options.up !== undefined) this.#handle.setUp(options.up);
      if (sendBuffer !== undefined) this.#handle.setSndbuf(sendBuffer);
    } catch (error) {
      this.close();
      throw error;
    }
    log('%s %s%s', this.#created ? 'created' : 'attached to', this.#lastName, this.#netns ? ` in netns ${this.#netns}` : '');
  }

  /** The device's current name. Setting it renames the device (kernels before 6.x: only when down, else EBUSY). */
  get name(): string {
    if (!this.#closed) this.#lastName = this.#handle.name;
    return this.#lastName;
  }

  set name(name: string) {
    this.#handle.rename(name);
    this.#lastName = this.#handle.name;
  }

  /** The namespace the device was opened in (undefined: this process's own). */
  get netns(): string | undefined {
    return this.#netns;
  }

  /** True when opening created the device (it disappears on close); false for a persistent one. */
  get created(): boolean {
    return this.#created;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** 'tun' for a TUN device (IP packets, no Ethernet header), else 'tap'. */
  get kind(): 'tap' | 'tun' {
    return this.#kind;
  }

  /** Opened with offloads (IFF_VNET_HDR, checksum and TSO): see `TapDeviceOptions.offload`. */
  get offload(): boolean {
    return this.#offload;
  }

  /** The device's own (kernel side) MAC as `aa:bb:cc:dd:ee:ff`. */
  get mac(): string {
    return formatMac(this.#handle.getMac());
  }

  set mac(mac: string | Uint8Array) {
    this.#handle.setMac(toMacBytes(mac));
  }

  /** The device's own (kernel side) MAC as 6 bytes (a fresh copy). */
  get macBytes(): Uint8Array {
    return new Uint8Array(this.#handle.getMac());
  }

  /** Largest IP packet the device carries (frames are up to mtu + 14 bytes). */
  get mtu(): number {
    return this.#handle.getMtu();
  }

  set mtu(mtu: number) {
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new NetstackError('ERR_INVALID_ARG_VALUE', `mtu must be an integer 68..65535, got ${mtu}`);
    }
    this.#handle.setMtu(mtu);
  }

  /** Administrative state (IFF_UP). Setting it is `up()` / `down()`. */
  get isUp(): boolean {
    return (this.#handle.getFlags() & IFF_UP) !== 0;
  }

  set isUp(up: boolean) {
    this.#handle.setUp(up);
  }

  /** Carrier (IFF_RUNNING): true while a process, such as this one, holds the device's fd. */
  get isRunning(): boolean {
    return (this.#handle.getFlags() & IFF_RUNNING) !== 0;
  }

  up(): void {
    this.#handle.setUp(true);
  }

  down(): void {
    this.#handle.setUp(false);
  }

  /**
   * Receives every frame batch from now on (one callback per fd wake-up). Replaces an earlier
   * callback. Reading starts with the first call; frames that arrive before are left to the
   * kernel's queue (which drops beyond its length). With `offload`, `headers[i]` is the 10-byte
   * virtio_net_hdr of `frames[i]` (see virtio-net-hdr.ts); without, `headers` is undefined.
   * `time`: when the batch was handed over, in the stack's clock (`performance.timeOrigin +
   * performance.now()` ms; read by the addon, never later than performance.now()). `slab`:
   * the ArrayBuffer every frame and header of the batch is a view of (a frame's `.buffer` is a
   * call into the runtime). The frames a wake-up re-reads after an answered exchange share one
   * callback scope: their microtasks run after the next of them (docs/api.md).
   */
  onFrames(callback: FramesCallback): void {
    this.#framesCb = callback;
    this.#handle.start(this.#deliver, this.#fail);
  }

  /**
   * @internal With `offload`: from now on `onFrames`' callback gets no `headers` (undefined);
   * each frame's virtio_net_hdr stays in front of it, the VNET_HDR_LEN bytes before
   * `frame.byteOffset` in `frame.buffer`, for a reader that reads it there (the TAP link): no
   * view and no list made per batch for the headers. Without `offload` nothing changes.
   */
  headersInPlace(): void {
    this.#headersInPlace = true;
  }

  /**
   * @internal From now on every batch of one frame (each exchange under request/response) is
   * handed to `onFrames`' callback in the same one-element `frames` array, refilled: for a
   * receiver that keeps no reference to the array itself once the callback returns (the TAP
   * link), so no array is made per exchange. Larger batches get an array of their own (a reused
   * one would have its length changed, a call into the runtime). The frames are views as
   * before, which the receiver may keep.
   */
  reuseBatchArray(): void {
    this.#batchArray ??= new Array<Uint8Array>(1);
  }

  /**
   * Receives the fatal error (device deleted, fd unusable) that closes the device. Without a
   * callback such an error is thrown as an uncaught exception, like an EventEmitter 'error'.
   */
  onError(callback: (error: Error) => void): void {
    this.#errorCb = callback;
  }

  /**
   * Writes one whole frame. True when the kernel took it or it waits in the write queue; false
   * when it was dropped (queue full, device down, frame refused) and counted in `stats()`.
   * Throws ERR_LINK_CLOSED after close. With `offload`, `vnetHeader` (10 bytes, see
   * virtio-net-hdr.ts) goes in front of the frame instead of an all-zero one: the frame's
   * partial checksum or segmentation for the kernel to finish (without `offload`:
   * ERR_INVALID_STATE). One call into the addon either way, cheaper than a batch of one.
   */
  write(frame: Uint8Array, vnetHeader?: Uint8Array): boolean {
    const result = vnetHeader === undefined ? this.#sendFrame(frame) : this.#sendWithHeader(vnetHeader, frame);
    if (result === WRITE_SENT || result === WRITE_QUEUED) return true;
    if (result < 0) this.#writeFailed(-result);
    return false;
  }

  /**
   * Writes `bytes[start, end)` as one frame, in one `write` of one piece; results as `write`.
   * With `offload` the span begins with the frame's own 10-byte virtio_net_hdr, which the caller
   * wrote into room in front of the frame (the packet's headroom): cheaper than a header in a
   * piece of its own (a `writev` of two). ERR_OUT_OF_RANGE when the span is outside `bytes` or
   * shorter than that header.
   */
  writeSpan(bytes: Uint8Array, start: number, end: number): boolean {
    const result = this.#sendSpan(bytes, start, end);
    if (result === WRITE_SENT || result === WRITE_QUEUED) return true;
    if (result < 0) this.#writeFailed(-result);
    return false;
  }

  /**
   * Writes frames in order; returns how many were taken (sent or queued). An item may also be
   * the pieces of one frame (one writev), with `offload` the first starting with its
   * virtio_net_hdr. With `counts`, `frames` is flat: frame i is the next `counts[i]` pieces
   * (1 to 64; they must add up to `frames.length`), cheaper for the addon than an array per
   * frame.
   */
  writeBatch(frames: ReadonlyArray<Uint8Array | readonly Uint8Array[]>, counts?: Uint8Array): number {
    const result = this.#handle.writeBatch(frames, counts);
    if (result >= 0) return result;
    this.#writeFailed(-result);
    return 0;
  }

  stats(): TapStats {
    return this.#handle.stats();
  }

  /** Lets the process exit while the device is open (like `socket.unref()`). */
  unref(): this {
    this.#handle.unref();
    return this;
  }

  ref(): this {
    this.#handle.ref();
    return this;
  }

  /**
   * Says, from inside the frames callback, that the frame being handled was answered other
   * than by a write to this device: a NAT that hands a datagram to a host socket, whose reply
   * arrives through that socket. Under request/response the device reads one frame per
   * wake-up once wake-ups look like one small frame in and its answer out (the read that would
   * end in EAGAIN is skipped); without this call such a frame looks unanswered and every
   * wake-up reads until EAGAIN. No call into the addon: one store into an array shared with it.
   * Outside the frames callback it has no effect.
   */
  answeredElsewhere(): void {
    this.#batch[ANSWERED_SLOT] = 1;
  }

  /** @internal The addon's handle: the nat registers its offloaded UDP flows with it (native/udp-flow.h). */
  get nativeHandle(): NativeTapHandle {
    return this.#handle;
  }

  /**
   * @internal Called during `onFrames`' callback: nothing will look at this batch's frames (or
   * their headers) once the callback returns, so the device reads its next batch into the same
   * memory while it is still in the CPU's cache (`stats().rxSlabReuses` counts it). The caller
   * must know it: the link's frame lease (streams/frame-lease.ts) says so only when every frame
   * was consumed by a path that keeps no view. A frame of the next batch that lies where one of
   * this batch lay, with its length, is handed over in the same view object. Outside the
   * callback it does nothing.
   */
  recycleBatch(): void {
    this.#batch[RECYCLE_SLOT] = 1;
  }

  /**
   * @internal Reads what waits in the device now and hands it to `onFrames` as a wake-up would,
   * before returning; the frames read (0 when closed, not reading, or called from inside
   * `onFrames`). For a caller that knows the event loop was held up: Node runs due timers
   * before it polls, so a timer that fired late would otherwise act before the frames that
   * arrived meanwhile (see createStack's late-timer drain).
   */
  drain(): number {
    if (this.#closed) return 0;
    return this.#handle.drain();
  }

  /**
   * @internal For tests: fill a recycled batch's memory with `byte` before the next batch is
   * read into it, so a view kept by mistake reads garbage at once; undefined turns it off.
   */
  poisonRecycled(byte: number | undefined): void {
    this.#handle.poisonRecycled(byte ?? -1);
  }

  /** For tests: while true, every write waits in the queue as if the kernel said EAGAIN. */
  holdWrites(hold: boolean): void {
    this.#handle.holdWrites(hold);
  }

  /**
   * Releases the device. Nothing is delivered afterwards; queued writes are dropped. A device we
   * created disappears; a pre-existing one stays, put back as found (see `restoreOnClose`).
   * Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#framesCb = undefined;
    this.#batchArray = undefined; // keeps no slab alive
    this.#recycledViews = undefined;
    this.#recycledSlab = undefined;
    if (!this.#handle.closed) {
      this.#lastName = this.#handle.name;
      this.#handle.stop();
      if (this.#found !== undefined && this.#restoreOnClose) this.#restore(this.#found);
      this.#handle.close();
    }
    log('closed %s', this.#lastName);
  }

  #restore(found: FoundState): void {
    const h = this.#handle;
    const attempt = (what: string, action: () => void): void => {
      try {
        action();
      } catch (error) {
        log('could not restore %s of %s: %s', what, found.name, (error as Error).message);
      }
    };
    const isUp = (): boolean => (h.getFlags() & IFF_UP) !== 0;
    if (h.name !== found.name) {
      attempt('name', () => {
        const wasUp = isUp();
        if (wasUp) h.setUp(false);
        h.rename(found.name);
        if (wasUp) h.setUp(true);
      });
    }
    attempt('mtu', () => {
      if (h.getMtu() !== found.mtu) h.setMtu(found.mtu);
    });
    const mac = found.mac;
    if (mac !== undefined) {
      attempt('mac', () => {
        if (formatMac(h.getMac()) !== formatMac(mac)) h.setMac(mac);
      });
    }
    attempt('up/down state', () => {
      if (isUp() !== found.up) h.setUp(found.up);
    });
  }

  // Arrow properties: handed to the addon once, bound to this device.
  readonly #deliver = (buffer: ArrayBuffer): void => {
    const callback = this.#framesCb;
    if (callback === undefined) return;
    const lengths = this.#lengths;
    const start = this.#batch[0];
    const count = this.#batch[1];
    const time = clockFromMonotonic(this.#wakeTime[0]);
    // The last batch's views, when its memory is what this batch was read into (the addon
    // takes a batch's region back only when its receiver said nothing looks at its frames
    // again, and only for the next batch: same slab, same start). Under request/response with
    // the TCP layer's release (frame-lease.ts) that is every exchange: one frame of the same
    // length in the same place, whose view is then not made again.
    let old: Uint8Array[] | undefined;
    if (this.#recycledSlab === buffer && this.#recycledOffset === start) old = this.#recycledViews;
    this.#recycledViews = undefined;
    this.#recycledSlab = undefined;
    const single = this.#batchArray;
    const frames = count === 1 && single !== undefined ? single : new Array<Uint8Array>(count);
    let offset = start;
    if (!this.#offload || this.#headersInPlace) {
      // (With offload and headersInPlace: each frame's header stays where it was read, in
      // front of it in the same memory; only the frames' views are made.)
      const skip = this.#offload ? VNET_HDR_LEN : 0;
      for (let i = 0; i < count; i++) {
        const length = lengths[i];
        // `old` may be `frames` itself (the reused array): slot i is read before it is written.
        const was = old !== undefined && i < old.length ? old[i] : undefined;
        frames[i] =
          was !== undefined && byteOffsetOf(was) === offset + skip && was.length === length - skip
            ? was
            : new Uint8Array(buffer, offset + skip, length - skip);
        offset += length;
      }
      callback(frames, undefined, time, buffer);
    } else {
      const headers = new Array<Uint8Array>(count);
      for (let i = 0; i < count; i++) {
        const length = lengths[i];
        headers[i] = new Uint8Array(buffer, offset, VNET_HDR_LEN);
        frames[i] = new Uint8Array(buffer, offset + VNET_HDR_LEN, length - VNET_HDR_LEN);
        offset += length;
      }
      callback(frames, headers, time, buffer);
    }
    // Not reached when the callback threw: the addon then keeps the batch's memory too.
    const recycled = this.#batch[RECYCLE_SLOT] !== 0 && !this.#closed;
    if (recycled) {
      this.#recycledViews = frames;
      this.#recycledSlab = buffer;
      this.#recycledOffset = start;
    }
    if (single !== undefined && !(recycled && frames === single)) {
      // Its frame is the receiver's (or an older batch's): the array keeps neither it nor its
      // slab alive.
      (single as (Uint8Array | undefined)[])[0] = undefined;
    }
  };

  readonly #fail = (error: Error): void => {
    log('fatal error on %s: %s', this.#lastName, error.message);
    this.close();
    const callback = this.#errorCb;
    if (callback !== undefined) callback(error);
    else throw error;
  };

  #writeFailed(errno: number): void {
    if (!FATAL_ERRNOS.has(errno)) return; // counted by the addon as txErrors
    const error = loadTapAddon().errorFor(errno, 'write', `TAP device ${this.#lastName} is gone`);
    // Not from inside write(): the caller should not see its error handler run re-entrantly.
    queueMicrotask(() => {
      if (!this.#closed) this.#fail(error);
    });
  }
}

function toMacBytes(mac: string | Uint8Array): Uint8Array {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw new NetstackError('ERR_INVALID_ARG_VALUE', `mac must have 6 bytes, got ${mac.length}`);
    return mac;
  }
  const bytes = parseMac(mac);
  if (bytes === undefined) throw new NetstackError('ERR_INVALID_ARG_VALUE', `bad MAC address "${mac}"`);
  return bytes;
}

/** Validates `sendBuffer` here, with the option's name (the addon would coerce a bad number). */
function checkSendBuffer(bytes: number | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 0x7fff_ffff) {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `sendBuffer must be an integer 1..2147483647 bytes (got ${String(bytes)})`);
  }
  return bytes;
}

/** Validates `busyPollUs` here, with the option's name (the addon would coerce a bad number). */
function checkBusyPoll(us: number | undefined): number {
  if (us === undefined) return 0;
  if (!Number.isInteger(us) || us < 0 || us > 1_000_000) {
    throw new NetstackError('ERR_INVALID_ARG_VALUE', `busyPollUs must be an integer 0..1000000 (got ${String(us)})`);
  }
  return us;
}
