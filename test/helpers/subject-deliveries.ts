import { PacketSubject } from '../../streams/pipeline/packet-subject.js';

/**
 * How many PacketSubject deliveries `fn` makes: the link's own, plus a layer's to the layer
 * above when an item takes the long way (the direct way in passes none of them). The direct-way
 * tests count with it that an item went past a layer's Subject, or through it while observed.
 */
export function subjectDeliveries(fn: () => void): number {
  const proto = PacketSubject.prototype as unknown as { next(v: unknown): void };
  const next = proto.next;
  let calls = 0;
  proto.next = function (this: unknown, v: unknown) {
    calls++;
    next.call(this, v);
  };
  try {
    fn();
  } finally {
    proto.next = next;
  }
  return calls;
}
