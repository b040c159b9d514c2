import { PacketBuffer } from '../../src/packet-buffer.js';

/** What a refilled record holds between packets (and a record's first value). */
export const NO_PACKET: PacketBuffer = PacketBuffer.alloc(0);

/**
 * One record handed down for every packet, refilled each time, where the sink below keeps no
 * record (`Sink.retainsNothing`): a layer's way down allocates nothing per packet for it. While
 * it is lent (the sink's call in progress) a packet sent from inside that call (a nested send)
 * is told to make a fresh record; when it comes back, nothing of the packet stays reachable
 * from it. A lender made without a record (the sink may keep what it gets) never lends.
 *
 *   const r = lender.take();
 *   if (r === undefined) return down.next({ ...fresh record... });
 *   r.pb = pb; ...;
 *   try { down.next(r); } finally { lender.giveBack(); }
 */
export class RecordLender<R extends { pb: PacketBuffer; onError: unknown }> {
  /** A plain field, not `#lent`: read for every packet sent. */
  private lent = false;

  constructor(readonly record: R | undefined) {}

  /** The record to fill and hand down, or undefined: none, or lent out now (make a fresh one). */
  take(): R | undefined {
    if (this.lent) return undefined;
    const r = this.record;
    if (r !== undefined) this.lent = true;
    return r;
  }

  /** The sink returned: the record is free again, and holds nothing of the packet. */
  giveBack(): void {
    this.lent = false;
    const r = this.record as R;
    r.pb = NO_PACKET;
    r.onError = undefined;
  }
}
