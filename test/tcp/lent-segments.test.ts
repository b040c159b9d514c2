/**
 * A host that only reads segments (TcpHost.readsSegmentsOnly) is lent one record, refilled for
 * each segment, with a shared view for a small payload; every other host gets records of its
 * own. Two cores, each host copying what it is given as a network would.
 */

import assert from 'node:assert/strict';
import { resolveTcpConfig } from '../../src/tcp/config.js';
import { TcpConnectionCore, type TcpHost } from '../../src/tcp/connection.js';
import { SendBuffer } from '../../src/tcp/send-buffer.js';
import { TcpFlags, type TcpRepr } from '../../src/wire/tcp.js';

const A = 0xc6120001; // 198.18.0.1 (above 2^31, as the stack's addresses)
const B = 0xc6120002;

/** A copy of everything a segment record says, as a wire would carry it. */
const copy = (seg: TcpRepr): TcpRepr => ({
  ...seg,
  timestamp: seg.timestamp === undefined ? undefined : { ...seg.timestamp },
  payload: seg.payload.slice(),
});

function pair(readsSegmentsOnly: boolean) {
  const config = resolveTcpConfig({ timestamps: true });
  const given: TcpRepr[] = []; // the records A's host was handed, as handed
  const toB: TcpRepr[] = [];
  const toA: TcpRepr[] = [];
  const received: number[] = [];
  const aHost: TcpHost = {
    readsSegmentsOnly,
    send: (_c, seg) => {
      given.push(seg);
      toB.push(copy(seg));
    },
  };
  const bHost: TcpHost = {
    send: (_c, seg) => toA.push(copy(seg)),
    onReadable: (conn) => {
      for (let chunk = conn.read(); chunk !== undefined; chunk = conn.read()) received.push(...chunk);
    },
  };
  let now = 1;
  const a = new TcpConnectionCore({ localAddr: A, localPort: 40000, remoteAddr: B, remotePort: 7, iss: 1000, host: aHost, config });
  const b = new TcpConnectionCore({ localAddr: B, localPort: 7, remoteAddr: A, remotePort: 40000, iss: 5000, host: bHost, config });
  b.listen();
  const deliver = (): void => {
    while (toA.length + toB.length > 0) {
      for (const s of toB.splice(0)) b.handleSegment(s, now);
      for (const s of toA.splice(0)) a.handleSegment(s, now);
    }
  };
  a.connect(now);
  deliver();
  return { a, b, given, received, deliver, tick: () => (now += 3), now: () => now };
}

describe('tcp: segment records lent to a host that only reads them', () => {
  it('lends one record, refilled with each segment\'s values, and the exchange works as with fresh ones', () => {
    for (const lent of [true, false]) {
      const p = pair(lent);
      assert.equal(p.a.state, 'ESTABLISHED');
      const first = p.given.length;
      for (let i = 0; i < 5; i++) {
        p.tick();
        p.a.write(new Uint8Array([i + 1]), p.now());
        p.deliver();
      }
      assert.deepEqual(p.received, [1, 2, 3, 4, 5]);
      const data = p.given.slice(first);
      assert.ok(data.length >= 5);
      const distinct = new Set(data).size;
      if (lent) {
        assert.equal(distinct, 1, 'one record for every segment');
        // Handed back: nothing of the last segment is left reachable from it.
        assert.equal(data[0].payload.length, 0);
      } else {
        assert.equal(distinct, data.length, 'a record of its own for each');
        // Each keeps what it said: the sequence numbers and TSvals of successive segments.
        assert.ok(data.every((s, i) => i === 0 || s.seq !== data[i - 1].seq || s.ack !== data[i - 1].ack || s.timestamp !== data[i - 1].timestamp));
      }
      assert.equal(p.b.counters.bytesReceived, 5);
    }
  });

  it('a segment built while the host holds the lent record gets its own', () => {
    const config = resolveTcpConfig({ timestamps: true });
    const seen: TcpRepr[] = [];
    const snapshots: string[] = [];
    let other: TcpConnectionCore | undefined;
    const host: TcpHost = {
      readsSegmentsOnly: true,
      send: (conn, seg) => {
        seen.push(seg);
        const before = JSON.stringify({ ...seg, payload: [...seg.payload] });
        // A host whose send makes another core send (here: the other one's SYN).
        if (conn !== other && other !== undefined && other.state === 'CLOSED') other.connect(1);
        snapshots.push(before === JSON.stringify({ ...seg, payload: [...seg.payload] }) ? 'unchanged' : 'changed');
      },
    };
    const one = new TcpConnectionCore({ localAddr: A, localPort: 40001, remoteAddr: B, remotePort: 7, iss: 1, host, config });
    other = new TcpConnectionCore({ localAddr: A, localPort: 40002, remoteAddr: B, remotePort: 7, iss: 9, host, config });
    one.connect(1);
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0], seen[1], 'the nested segment has a record of its own');
    assert.equal(seen[0].srcPort, 40001);
    assert.equal(seen[1].srcPort, 40002);
    assert.equal(seen[1].flags & TcpFlags.SYN, TcpFlags.SYN);
    assert.deepEqual(snapshots, ['unchanged', 'unchanged'], 'the outer record did not change under the host');
  });
});

describe('tcp/send-buffer: copyOut', () => {
  it('copies the bytes at an offset, across the ring\'s end too, as peek reads them', () => {
    const buf = new SendBuffer(8);
    buf.write(new Uint8Array([1, 2, 3, 4, 5, 6]));
    buf.consume(5, 0);
    buf.write(new Uint8Array([7, 8, 9, 10, 11]));
    // Held: 6 7 8 9 10 11, wrapping around the ring's end.
    assert.ok(buf.contiguous(0, 6) < 6);
    for (let off = 0; off < 6; off++) {
      for (let len = 1; off + len <= 6; len++) {
        assert.deepEqual([...buf.copyOut(off, new Uint8Array(len))], [...buf.peek(off, len)]);
      }
    }
  });
});
