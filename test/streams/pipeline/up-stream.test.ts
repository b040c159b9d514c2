/**
 * The inbound direct path (streams/pipeline/up-stream.ts): layers attach to an `UpStream` and are
 * called directly, subscribers get the same items in the same order, and anything inserted
 * (a tap's observer, an operator) sees what it saw before. The stack-level cases run a UDP
 * exchange over the memory wire while taps come and go and an operator changes its mind.
 */
import assert from 'node:assert/strict';
import { concatMap, config, filter, map, of, Subject, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { attachUp, UpStream } from '../../../streams/pipeline/up-stream.js';
import { PacketSubject } from '../../../streams/pipeline/packet-subject.js';
import { TapPoint } from '../../../streams/pipeline/taps.js';
import { between, type Boundary } from '../../../streams/pipeline/boundary.js';
import { createDemux } from '../../../streams/operators/demux.js';
import { memoryPair } from '../stack/memory-pair.js';
import { advance } from '../stack/raw-peer.js';
import type { ReceivedDatagram } from '../../../streams/stack/udp-endpoint.js';
import type { IpDatagram } from '../../../streams/stack/ip-network.js';
import { PacketBuffer } from '../../../src/packet-buffer.js';

const newScheduler = (): TestScheduler => new TestScheduler((a, b) => assert.deepStrictEqual(a, b));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Runs `body` with RxJS's unhandled errors collected instead of thrown from a timer. */
function collectingUnhandled(body: (errors: unknown[]) => void): void {
  const errors: unknown[] = [];
  const before = config.onUnhandledError;
  config.onUnhandledError = (err) => errors.push(err);
  try {
    body(errors);
  } finally {
    config.onUnhandledError = before;
  }
}

describe('pipeline: UpStream, the direct inbound path', () => {
  it('a PacketSubject delivers to attached observers and subscribers in the order they came', () => {
    const s = new PacketSubject<number>();
    const up$ = s.asObservable();
    assert.ok(up$ instanceof UpStream);
    const log: string[] = [];
    const a = attachUp(up$, (v) => log.push(`a${v}`));
    up$.subscribe((v) => log.push(`s${v}`));
    attachUp(up$, (v) => log.push(`b${v}`));
    s.next(1);
    a.unsubscribe();
    s.next(2);
    assert.deepEqual(log, ['a1', 's1', 'b1', 's2', 'b2']);
  });

  it('an observer detached during a delivery gets no more of it; one attached then gets only later ones', () => {
    const s = new PacketSubject<number>();
    const up$ = s.asObservable();
    const log: string[] = [];
    let second: { unsubscribe(): void } | undefined;
    attachUp(up$, (v) => {
      log.push(`a${v}`);
      if (v === 1) second?.unsubscribe();
      if (v === 1) attachUp(up$, (w) => log.push(`c${w}`));
    });
    second = attachUp(up$, (v) => log.push(`b${v}`));
    s.next(1);
    s.next(2);
    assert.deepEqual(log, ['a1', 'a2', 'c2']);
  });

  it('a throwing observer is reported as RxJS reports a subscriber’s error, and the next items still come', () => {
    collectingUnhandled((errors) => {
      const s = new PacketSubject<number>();
      const seen: number[] = [];
      attachUp(s.asObservable(), (v) => {
        if (v === 1) throw new Error('boom');
        seen.push(v);
      });
      attachUp(s.asObservable(), (v) => seen.push(10 + v));
      s.next(1);
      s.next(2);
      assert.deepEqual(seen, [11, 2, 12]);
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as Error).message, 'boom');
    });
  });

  it('attaching to a plain Observable subscribes it, with the same error reporting', () => {
    collectingUnhandled((errors) => {
      const source = new Subject<number>();
      const seen: number[] = [];
      const done: string[] = [];
      const sub = attachUp(source, {
        next: (v) => {
          if (v === 2) throw new Error('bad item');
          seen.push(v);
        },
        error: () => done.push('error'),
        complete: () => done.push('complete'),
      });
      source.next(1);
      source.next(2);
      source.next(3);
      source.complete();
      assert.deepEqual(seen, [1, 3]);
      assert.deepEqual(done, ['complete']);
      assert.equal(errors.length, 1);
      assert.ok(sub.closed, 'let go of the source once it completed');
    });
  });

  it('a demux endpoint attached to is called directly; a second claim, attached or subscribed, is EADDRINUSE', () => {
    const s = new PacketSubject<number>();
    const demux = createDemux(s.asObservable(), (v) => v % 2);
    const odd: number[] = [];
    const errors: string[] = [];
    const claim = attachUp(demux.endpoint(1), (v) => odd.push(v));
    attachUp(demux.endpoint(1), { next: () => undefined, error: (e: { code?: string }) => errors.push(`attach ${e.code}`), complete: () => undefined });
    demux.endpoint(1).subscribe({ error: (e: { code?: string }) => errors.push(`subscribe ${e.code}`) });
    s.next(1);
    s.next(2);
    s.next(3);
    claim.unsubscribe();
    s.next(5);
    assert.deepEqual(odd, [1, 3]);
    assert.deepEqual(errors, ['attach EADDRINUSE', 'subscribe EADDRINUSE']);
    assert.equal(demux.has(1), false);
    assert.ok(!s.observed, 'the last endpoint gone, the demux let go of its source');
  });

  it('a tap observer that comes mid-stream sees what crosses from then on, and the layer above misses nothing', () => {
    const s = new PacketSubject<number>();
    const point = new TapPoint<number, number>();
    const wrapped = point.wrap({ up$: s.asObservable(), down: { next: () => undefined } });
    const above: number[] = [];
    attachUp(wrapped.up$, (v) => above.push(v));
    const tapped: number[] = [];
    s.next(1);
    const observer = point.up$.subscribe((v) => tapped.push(v));
    s.next(2);
    observer.unsubscribe();
    s.next(3);
    assert.deepEqual(above, [1, 2, 3]);
    assert.deepEqual(tapped, [2]);
  });

  it('a stream piped from an UpStream is a plain Observable: a layer over it takes the operator’s path', () => {
    const s = new PacketSubject<number>();
    const piped$ = s.asObservable().pipe(map((v) => v * 10));
    assert.ok(!(piped$ instanceof UpStream));
    const seen: number[] = [];
    attachUp(piped$, (v) => seen.push(v));
    s.next(1);
    assert.deepEqual(seen, [10]);
  });

  it('between() keeps the direct path with a `down` operator alone, and gives the `up` operator’s output with one', () => {
    const s = new PacketSubject<number>();
    const lower: Boundary<number, number> = { up$: s.asObservable(), down: { next: () => undefined } };
    assert.ok(between(lower, { down: map((v: number) => v) }).up$ instanceof UpStream);
    const doubled = between(lower, { up: map((v: number) => v * 2) });
    assert.ok(!(doubled.up$ instanceof UpStream));
    const seen: number[] = [];
    attachUp(doubled.up$, (v) => seen.push(v));
    s.next(1);
    s.next(2);
    assert.deepEqual(seen, [2, 4], 'the layer above gets what the operator made, not what came from below');
  });

  it('a stack: a transport tap subscribed mid-stream sees the datagrams from then on, none after it leaves; every datagram is delivered', () => {
    const ts = newScheduler();
    const p = memoryPair({ scheduler: ts });
    const got: string[] = [];
    p.b.udp.bind({ port: 7 }).datagrams$.subscribe((d: ReceivedDatagram) => got.push(dec(d.payload)));
    const client = p.a.udp.bind();
    const send = (text: string): void => {
      client.send(enc(text), { address: '198.18.0.2', port: 7 });
      advance(ts, 10);
    };
    send('before');
    const tapped: string[] = [];
    const framesSeen: number[] = [];
    const onTransport = p.b.taps.transport.up$.pipe(filter((d: IpDatagram) => d.protocol === 17)).subscribe((d) => tapped.push(dec(d.payload.subarray(8))));
    const onLink = p.b.taps.link.up$.subscribe((f) => framesSeen.push(f.length));
    send('during1');
    send('during2');
    onTransport.unsubscribe();
    onLink.unsubscribe();
    send('after');
    assert.deepEqual(got, ['before', 'during1', 'during2', 'after']);
    assert.deepEqual(tapped, ['during1', 'during2']);
    assert.equal(framesSeen.length, 2, 'the link tap saw the two frames of its time');
    p.close();
  });

  it('a stack: an operator at the transport boundary that starts and stops delaying keeps the datagrams in order', () => {
    const ts = newScheduler();
    let delaying = false;
    const p = memoryPair({
      scheduler: ts,
      hooksB: {
        // Copies the datagram it holds back: the frame under it belongs to the link.
        transport: { up: concatMap((d) => (delaying ? timer(5, ts).pipe(map(() => ({ ...d, payload: d.payload.slice() }))) : of(d))) },
      },
    });
    const got: string[] = [];
    p.b.udp.bind({ port: 7 }).datagrams$.subscribe((d: ReceivedDatagram) => got.push(dec(d.payload)));
    const client = p.a.udp.bind();
    const order: string[] = [];
    let deliveredAtSwitchBack = -1;
    for (let i = 0; i < 12; i++) {
      // Straight, then held back for a while, then straight again while some are still held.
      if (i === 4) delaying = true;
      if (i === 8) {
        delaying = false;
        deliveredAtSwitchBack = got.length;
      }
      order.push(`d${i}`);
      client.send(enc(`d${i}`), { address: '198.18.0.2', port: 7 });
      advance(ts, 1);
    }
    advance(ts, 100);
    assert.ok(deliveredAtSwitchBack < 8, `some were still held when the operator stopped delaying (${deliveredAtSwitchBack} delivered)`);
    assert.deepEqual(got, order);
    p.close();
  });

  it('a stack: a user’s EtherType claimed, released and claimed again mid-stream gets its frames only while it holds the claim', () => {
    const ts = newScheduler();
    const p = memoryPair({ scheduler: ts });
    const ETHERTYPE = 0x88b5;
    const sender = p.a.ethernetProtocol(ETHERTYPE);
    const mac = p.b.interfaces[0].mac;
    const sendFrame = (byte: number): void => {
      const pb = PacketBuffer.alloc(1, 14);
      pb.buf[pb.head] = byte;
      sender.down.next({ dst: mac, pb });
      advance(ts, 1);
    };
    const seen: number[] = [];
    const take = (): { unsubscribe(): void } => p.b.ethernetProtocol$(ETHERTYPE).subscribe((f) => seen.push(f[14]));
    let claim = take();
    sendFrame(1);
    claim.unsubscribe();
    sendFrame(2);
    claim = take();
    sendFrame(3);
    claim.unsubscribe();
    assert.deepEqual(seen, [1, 3]);
    assert.equal(p.b.stats()['eth:eth0'].drops.unknownEthertype, 1);
    p.close();
  });
});
