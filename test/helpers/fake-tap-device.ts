/**
 * Two TAP (or TUN) devices joined back to back without a kernel: what one writes, the other
 * reads, virtio_net_hdr and all, in a batch per writer's flush (delivered on a later macrotask,
 * as a device's read wakes up after the write). With offload, a GSO frame crosses whole with
 * its header, as the kernel passes a GSO packet between two devices that both take it; a frame
 * written without a header arrives with a zero one (no flags: a complete checksum).
 *
 * Only what `deviceLink` (streams/links/tap-link.ts) calls is there; every header and frame
 * written is recorded for the test to check with the codecs.
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
  /** This device as `deviceLink` takes it. */
  asTapDevice(): TapDevice;
}

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
  readonly #inbox: Array<{ header: Uint8Array; frame: Uint8Array }> = [];
  #scheduled = false;

  constructor(readonly name: string, readonly mtu: number, readonly offload: boolean) {}

  asTapDevice(): TapDevice {
    return this as unknown as TapDevice;
  }

  onFrames(callback: (frames: Uint8Array[], headers: Uint8Array[] | undefined) => void): void {
    this.#onFrames = callback;
  }

  onError(): void {}

  write(frame: Uint8Array, vnetHeader?: Uint8Array): boolean {
    return this.writeBatch([vnetHeader === undefined ? frame : [vnetHeader, frame]]) === 1;
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

  receive(header: Uint8Array, frame: Uint8Array): void {
    if (this.closed) return;
    this.#inbox.push({ header, frame: frame.slice() });
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const batch = this.#inbox.splice(0);
      if (this.closed || this.#onFrames === undefined || batch.length === 0) return;
      this.#onFrames(batch.map((e) => e.frame), this.offload ? batch.map((e) => e.header) : undefined);
    });
  }

  stats(): Record<string, number> {
    return { rxFrames: 0, txFrames: this.written.length };
  }

  close(): void {
    this.closed = true;
  }
}
