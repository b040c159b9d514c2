import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, tcpInputTap, pattern, concat, B_IP, A_IP, type SeenSegment } from './tcp-helpers.js';
import { advance, stat } from './raw-peer.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { TcpConfig } from '../../../src/tcp/config.js';

const MSS = 1460;

/**
 * a sends `size` bytes to b over the memory wire; b's transport.up hook drops, once each, the
 * data segments of a that start at the given stream offsets. Returns what b read and both stacks.
 */
function transferDropping(size: number, dropOffsets: readonly number[], tcp: Partial<TcpConfig> = {}) {
  const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
  const toDrop = new Set(dropOffsets);
  let aIsn: number | undefined;
  const dropped: number[] = [];
  const drop = (s: SeenSegment): boolean => {
    if (s.src !== aAddr) return false;
    if ((s.flags & TcpFlags.SYN) !== 0) aIsn = s.seq;
    if (aIsn === undefined || s.len === 0) return false;
    const offset = (s.seq - aIsn - 1) >>> 0;
    if (!toDrop.has(offset)) return false;
    toDrop.delete(offset); // the retransmission gets through
    dropped.push(offset);
    return true;
  };
  const p = tcpPair({ scheduler: ts, tcpA: tcp, tcpB: tcp, hooksB: { transport: { up: tcpInputTap(ts, [], drop) } } });
  const chunks: Uint8Array[] = [];
  let server: TcpConnection | undefined;
  p.b.tcp.listen({ port: 7 }).subscribe((c) => {
    server = c;
    c.data$.subscribe((d) => chunks.push(d.slice()));
  });
  const payload = pattern(size, 3);
  p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => {
    c.write(payload);
    c.end();
  });
  advance(ts, 5000);
  assert.ok(server, 'connected');
  return { p, received: concat(chunks), payload, dropped };
}
const aAddr = ((): number => {
  const [x, y, z, w] = A_IP.split('.').map(Number);
  return ((x << 24) | (y << 16) | (z << 8) | w) >>> 0;
})();

describe('stack: SACK loss recovery over the memory wire', () => {
  it('recovers from three segments dropped in one window without a retransmission timeout', () => {
    const drops = [4 * MSS, 8 * MSS, 12 * MSS];
    const { p, received, payload, dropped } = transferDropping(200 * MSS, drops);
    assert.deepEqual(dropped, drops, 'the chosen segments were dropped');
    assert.equal(received.length, payload.length);
    assert.deepEqual(received, payload);
    assert.equal(stat(p.a, 'tcpConnections', 'timeouts'), 0, 'no RTO');
    assert.equal(stat(p.a, 'tcpConnections', 'sackRecoveries'), 1, 'one SACK recovery episode');
    assert.equal(stat(p.a, 'tcpConnections', 'retransmits'), 3, 'only the dropped segments resent');
    p.close();
  });

  it('with tcp.sack off the same drops are recovered by NewReno (no SACK episode)', () => {
    const drops = [4 * MSS, 8 * MSS, 12 * MSS];
    const { p, received, payload } = transferDropping(200 * MSS, drops, { sack: false });
    assert.deepEqual(received, payload);
    assert.equal(stat(p.a, 'tcpConnections', 'sackRecoveries'), 0);
    assert.equal(stat(p.a, 'tcpConnections', 'fastRetransmits'), 1);
    p.close();
  });
});
