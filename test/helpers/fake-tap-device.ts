/**
 * Two TAP (or TUN) devices joined back to back without a kernel: what one writes, the other
 * reads, virtio_net_hdr and all, in a batch per writer's flush (delivered on a later macrotask,
 * as a device's read wakes up after the write). With offload, a GSO frame crosses whole with
 * its header, as the kernel passes a GSO packet between two devices that both take it; a frame
 * written without a header arrives with a zero one (no flags: a complete checksum).
 *
 * Only what `deviceLink` (streams/links/tap-link.ts) calls is there; every header and frame
 * written is recorded for the test to check with the codecs.
 *
 * Like the addon, a batch is delivered as views into a receive slab (2 MiB, filled front to
 * back), and a batch the link recycles (TapDevice.recycleBatch) has its memory taken by the next
 * one; `poisonRecycled(byte)` fills that memory with `byte` first, so a view kept by mistake
 * reads garbage.
 */
import assert from 'node:assert/strict';
import type { TapDevice } from '../../streams/links/tap-device.js';
import { VNET_HDR_LEN } from '../../streams/links/virtio-net-hdr.js';
import { concatBytes } from './bytes.js';

export interface FakeDevice {
  readonly name: string;
  readonly mtu: number;
  readonly offload: boolean;
  readonly closed: boolean;
  /** Every frame written, with its virtio_net_hdr (a zero one when written without). */
  readonly written: Array<{ header: Uint8Array; frame: Uint8Array }>;
  /** Batches whose memory the next batch took (the link recycled them). */
  readonly reuses: number;
  /** Frames written as one span (writeSpan: with offload, behind a header in their own room). */
  readonly spans: number;
  /** Fill a recycled batch's memory with `byte` before it is reused (undefined: off). */
  poisonRecycled(byte: number | undefined): void;
  /**
   * While on, frames that arrive wait in the device (no wake-up delivers them) until the link
   * drains it (`drain()`, Link.pollInput) or the hold ends: a device whose input came while the
   * event loop was held up and has not polled yet. Frames waiting now: `waiting`.
   */
  holdDelivery(on: boolean): void;
  readonly waiting: number;
  /** This device as `deviceLink` takes it. */
  asTapDevice(): TapDevice;
}

const SLAB_SIZE = 2 << 20;

export function fakeDevicePair(opts: { offload: boolean; mtu?: number }): [FakeDevice, FakeDevice] {
  const a = new Fake('fake0', opts.mtu ?? 1500, opts.offload);
  const b = new Fake('fake1', opts.mtu ?? 1500, opts.offload);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class Fake implements FakeDevice {
  peer: Fake | undefined;
  closed = false;
  readonly written: Array<{ header: Uint8Array; frame: Uint8Array }> = [];
  #onFrames: ((frames: Uint8Array[], headers: Uint8Array[] | undefined) => void) | undefined;
  #headersInPlace = false;
  #batchArray: Uint8Array[] | undefined;
  readonly #inbox: Array<{ header: Uint8Array; frame: Uint8Array }> = [];
  #scheduled = false;
  #slab = new ArrayBuffer(SLAB_SIZE);
  #used = 0;
  #recycle = false;
  #poison: number | undefined;
  reuses = 0;
  spans = 0;

  constructor(readonly name: string, readonly mtu: number, readonly offload: boolean) {}

  asTapDevice(): TapDevice {
    return this as unknown as TapDevice;
  }

  onFrames(callback: (frames: Uint8Array[], headers: Uint8Array[] | undefined) => void): void {
    this.#onFrames = callback;
  }

  onError(): void {}

  /** As TapDevice.headersInPlace: with offload, no header views; each header before its frame in the slab. */
  headersInPlace(): void {
    this.#headersInPlace = true;
  }

  /** As TapDevice.reuseBatchArray: every batch handed over in the same array, refilled. */
  reuseBatchArray(): void {
    this.#batchArray ??= [];
  }

  write(frame: Uint8Array, vnetHeader?: Uint8Array): boolean {
    return this.writeBatch([vnetHeader === undefined ? frame : [vnetHeader, frame]]) === 1;
  }

  /** As TapDevice.writeSpan: `bytes[start, end)`, with offload its virtio_net_hdr first. */
  writeSpan(bytes: Uint8Array, start: number, end: number): boolean {
    this.spans++;
    const span = bytes.subarray(start, end);
    return this.writeBatch([this.offload ? [span.subarray(0, VNET_HDR_LEN), span.subarray(VNET_HDR_LEN)] : span]) === 1;
  }

  writeBatch(given: ReadonlyArray<Uint8Array | readonly Uint8Array[]>, counts?: Uint8Array): number {
    let items = given;
    if (counts !== undefined) {
      // The flat form: frame i is the next counts[i] pieces (a frame alone when just one).
      const framed: Array<Uint8Array | readonly Uint8Array[]> = [];
      let at = 0;
      for (const n of counts) {
        framed.push(n === 1 ? given[at] : (given.slice(at, at + n) as Uint8Array[]));
        at += n;
      }
      assert.equal(at, given.length, 'the piece counts add up to the pieces');
      items = framed;
    }
    for (const item of items) {
      let header: Uint8Array;
      let frame: Uint8Array;
      if (item instanceof Uint8Array) {
        header = new Uint8Array(VNET_HDR_LEN);
        frame = item.slice();
      } else if (this.offload) {
        // A frame in pieces behind its virtio_net_hdr (the caller's first piece with offload).
        header = item[0].slice(0, VNET_HDR_LEN);
        frame = concatBytes(item.slice(1));
      } else {
        // Without offload the pieces are the frame alone (the addon writes them as given).
        header = new Uint8Array(VNET_HDR_LEN);
        frame = concatBytes(item);
      }
      this.written.push({ header, frame });
      this.peer?.receive(header, frame);
    }
    return items.length;
  }

  #held = false;

  holdDelivery(on: boolean): void {
    this.#held = on;
    if (!on && this.#inbox.length > 0) this.#scheduleDelivery();
  }

  get waiting(): number {
    return this.#inbox.length;
  }

  receive(header: Uint8Array, frame: Uint8Array): void {
    if (this.closed) return;
    this.#inbox.push({ header, frame: frame.slice() });
    if (!this.#held) this.#scheduleDelivery();
  }

  #scheduleDelivery(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#held) return;
      const batch = this.#inbox.splice(0);
      if (this.closed || this.#onFrames === undefined || batch.length === 0) return;
      this.#deliver(batch);
    });
  }

  /** Copies the batch into the slab (header, then frame, as read from a device) and hands over views. */
  #deliver(batch: Array<{ header: Uint8Array; frame: Uint8Array }>): void {
    let total = 0;
    for (const e of batch) total += (this.offload ? VNET_HDR_LEN : 0) + e.frame.length;
    if (this.#slab.byteLength - this.#used < total) {
      this.#slab = new ArrayBuffer(Math.max(SLAB_SIZE, total));
      this.#used = 0;
    }
    const slab = this.#slab;
    const start = this.#used;
    const bytes = new Uint8Array(slab);
    const frames: Uint8Array[] = this.#batchArray ?? [];
    frames.length = 0;
    const headers: Uint8Array[] = [];
    let at = start;
    for (const e of batch) {
      if (this.offload) {
        bytes.set(e.header, at);
        headers.push(new Uint8Array(slab, at, VNET_HDR_LEN));
        at += VNET_HDR_LEN;
      }
      bytes.set(e.frame, at);
      frames.push(new Uint8Array(slab, at, e.frame.length));
      at += e.frame.length;
    }
    this.#used = start + ((total + 63) & ~63);
    this.#recycle = false;
    (this.#onFrames as (frames: Uint8Array[], headers: Uint8Array[] | undefined) => void)(frames, this.offload && !this.#headersInPlace ? headers : undefined);
    if (this.#recycle && !this.closed && slab === this.#slab) {
      this.#recycle = false;
      if (this.#poison !== undefined) bytes.fill(this.#poison, start, this.#used);
      this.#used = start;
      this.reuses++;
    }
  }

  recycleBatch(): void {
    this.#recycle = true;
  }

  /** Delivers what waits now, as the addon's read before returning (TapDevice.drain). */
  drain(): number {
    const batch = this.#inbox.splice(0);
    if (this.closed || this.#onFrames === undefined || batch.length === 0) return 0;
    this.#deliver(batch);
    return batch.length;
  }

  poisonRecycled(byte: number | undefined): void {
    this.#poison = byte;
  }

  stats(): Record<string, number> {
    return { rxFrames: 0, txFrames: this.written.length, rxSlabReuses: this.reuses };
  }

  close(): void {
    this.closed = true;
  }
}
