/**
 * PacketSubject: a Subject whose next() walks RxJS's snapshot of the observers by index. It must
 * behave as RxJS's Subject in every case: each script runs against both and the logs must match.
 */
import assert from 'node:assert/strict';
import { ObjectUnsubscribedError, Subject } from 'rxjs';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';

/** Runs the same script against a Subject and a PacketSubject; returns both logs. */
function both(script: (s: Subject<number>, log: string[]) => void): [string[], string[]] {
  const a: string[] = [];
  const b: string[] = [];
  script(new Subject<number>(), a);
  script(new PacketSubject<number>(), b);
  return [a, b];
}

describe('PacketSubject', () => {
  it('one subscriber gets every value; a second one joins and both get later values', () => {
    const [plain, packet] = both((s, log) => {
      s.subscribe((v) => log.push(`a${v}`));
      s.next(1);
      s.subscribe((v) => log.push(`b${v}`));
      s.next(2);
    });
    assert.deepEqual(packet, ['a1', 'a2', 'b2']);
    assert.deepEqual(packet, plain);
  });

  it('a subscriber that joins while a value is delivered gets only later ones; one that leaves gets no more', () => {
    const [plain, packet] = both((s, log) => {
      const first = s.subscribe((v) => {
        log.push(`a${v}`);
        if (v === 1) s.subscribe((w) => log.push(`b${w}`));
        if (v === 2) first.unsubscribe();
      });
      s.next(1);
      s.next(2);
      s.next(3);
    });
    assert.deepEqual(packet, ['a1', 'a2', 'b2', 'b3']);
    assert.deepEqual(packet, plain);
  });

  it('with several subscribers, each gets each value in order; one unsubscribed during a delivery gets nothing more', () => {
    const [plain, packet] = both((s, log) => {
      let third: { unsubscribe(): void } | undefined;
      s.subscribe((v) => {
        log.push(`a${v}`);
        if (v === 1) third?.unsubscribe(); // still in the snapshot for this value, but closed: skipped
      });
      s.subscribe((v) => log.push(`b${v}`));
      third = s.subscribe((v) => log.push(`c${v}`));
      s.next(1);
      s.next(2);
    });
    assert.deepEqual(packet, ['a1', 'b1', 'a2', 'b2']);
    assert.deepEqual(packet, plain);
  });

  it('after complete, next is ignored; after unsubscribe(), next throws ObjectUnsubscribedError', () => {
    const [plain, packet] = both((s, log) => {
      s.subscribe({ next: (v) => log.push(`a${v}`), complete: () => log.push('done') });
      s.complete();
      s.next(1);
    });
    assert.deepEqual(packet, ['done']);
    assert.deepEqual(packet, plain);
    const s = new PacketSubject<number>();
    s.subscribe(() => undefined);
    s.unsubscribe();
    assert.throws(() => s.next(1), (e) => e instanceof ObjectUnsubscribedError);
  });

  it('with no subscriber a value goes nowhere', () => {
    const s = new PacketSubject<number>();
    s.next(1);
    const seen: number[] = [];
    s.subscribe((v) => seen.push(v));
    s.next(2);
    assert.deepEqual(seen, [2]);
  });
});
