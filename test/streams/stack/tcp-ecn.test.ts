import assert from 'node:assert/strict';
import { map, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { advance } from './raw-peer.js';
import { tcpPair, pattern, concat, B_IP, type TcpPairOptions } from './tcp-helpers.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import { onesSum } from '../../../src/wire/checksum.js';
import type { Ipv4Datagram } from '../../../streams/stack/ipv4-layer.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';

/**
 * a (ECN on) connects to b's port 9 through b's `hooksB` and sends 100,000 bytes; asserts they
 * arrived whole. `connected` runs once the handshake is done.
 */
function transfer(ts: TestScheduler, hooksB: TcpPairOptions['hooksB'], connected?: () => void): { conn: TcpConnection; server: TcpConnection; close: () => void } {
  const p = tcpPair({ scheduler: ts, tcpA: { ecn: 'on' }, hooksB });
  const got: Uint8Array[] = [];
  let server: TcpConnection | undefined;
  const subs: Subscription[] = [p.b.tcp.listen({ port: 9 }).subscribe((c) => {
    server = c;
    c.data$.subscribe((x) => got.push(x.slice()));
  })];
  let conn: TcpConnection | undefined;
  subs.push(p.a.tcp.connect({ address: B_IP, port: 9 }).subscribe((c) => (conn = c)));
  advance(ts, 10);
  assert.ok(conn && server);
  connected?.();
  const payload = pattern(100_000);
  conn.write(payload);
  advance(ts, 1000);
  assert.deepEqual(concat(got), payload);
  return {
    conn,
    server,
    close: () => {
      for (const s of subs) s.unsubscribe();
      p.close();
    },
  };
}

describe('stack: TCP ECN over the memory wire', () => {
  it('negotiates ECN, sends data ECT(0), and a CE mark on the way makes the sender reduce once', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    const synFlags: number[] = [];
    const ecnOfData: number[] = [];
    let marked = 0;
    // b's input records a's SYN and the ECN field of a's data, and marks the fifth data datagram CE
    // (a router under load would; RFC 3168 5).
    const router = map((d: Ipv4Datagram) => {
      if (d.protocol !== 6) return d;
      const flags = d.payload[13];
      if ((flags & TcpFlags.SYN) !== 0) synFlags.push(flags);
      const dataLength = d.payload.length - ((d.payload[12] >> 4) << 2);
      if (dataLength > 0) {
        ecnOfData.push(d.header[1] & 3);
        if (ecnOfData.length === 5) {
          d.header[1] |= 3;
          marked++;
        }
      }
      return d;
    });
    const { conn, server, close } = transfer(ts, { transport: { up: router } }, () => {
      assert.equal(synFlags[0] & (TcpFlags.ECE | TcpFlags.CWR), TcpFlags.ECE | TcpFlags.CWR, 'an ECN-setup SYN');
    });
    assert.equal(conn.core.ecnActive, true);
    assert.equal(server.core.ecnActive, true);
    assert.equal(marked, 1);
    assert.ok(ecnOfData.length > 5 && ecnOfData.every((e) => e === 2), 'data is ECT(0)');
    assert.equal(server.counters.ecnCeReceived, 1);
    assert.equal(conn.counters.ecnReductions, 1);
    assert.equal(conn.counters.retransmits, 0, 'a reduction without loss');
    close();
  });

  it('a CE mark made under IPv4 (at the link) is read from the plain stack\'s own record too', () => {
    const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
    let dataFrames = 0;
    let marked = 0;
    // b's link input marks the fifth data frame CE and fixes the IPv4 header checksum: no
    // transport operator, so b's IPv4 hands TCP its own record (ReceivedIpv4, ECN read in place).
    const router = map((frame: Uint8Array) => {
      if (frame[12] !== 0x08 || frame[13] !== 0x00 || frame[14 + 9] !== 6) return frame;
      const ihl = (frame[14] & 0x0f) << 2;
      const total = (frame[16] << 8) | frame[17];
      const tcpAt = 14 + ihl;
      if (total - ihl - ((frame[tcpAt + 12] >> 4) << 2) > 0 && ++dataFrames === 5) {
        frame[15] |= 3;
        frame[24] = frame[25] = 0;
        const c = ~onesSum(frame, 14, ihl, 0) & 0xffff;
        frame[24] = c >> 8;
        frame[25] = c & 0xff;
        marked++;
      }
      return frame;
    });
    const { conn, server, close } = transfer(ts, { link: { up: router } });
    assert.equal(marked, 1);
    assert.equal(server.counters.ecnCeReceived, 1);
    assert.equal(conn.counters.ecnReductions, 1);
    close();
  });
});
