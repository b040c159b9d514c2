import assert from 'node:assert/strict';
import { VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { tcpPair, tcpInputTap, pattern, concat, B_IP, A_IP, type SeenSegment } from './tcp-helpers.js';
import { advance, stat } from './raw-peer.js';
import { TcpFlags } from '../../../src/wire/tcp.js';
import type { TcpConnection } from '../../../streams/stack/tcp-connection.js';
import type { TcpConfig } from '../../../src/tcp/config.js';

const MSS = 1460;

/**
 * a sends `size` bytes to b over the memory wire; b's transport.up hook drops the first
 * transmission of a's data segments number `dropIndexes` (0 = the first data segment), whatever
 * their size (timestamps, if negotiated, shorten them). Returns what b read and both stacks.
 */
function transferDropping(size: number, dropIndexes: readonly number[], tcp: Partial<TcpConfig> = {}, latencyMs = 0, dropFin = false) {
  const ts = new TestScheduler((x, y) => assert.deepStrictEqual(x, y));
  const toDrop = new Set(dropIndexes);
  let aIsn: number | undefined;
  let sentEnd = 0;
  let index = 0;
  const dropped: number[] = [];
  const drop = (s: SeenSegment): boolean => {
    if (s.src !== aAddr) return false;
    if ((s.flags & TcpFlags.SYN) !== 0) aIsn = s.seq;
    if (aIsn === undefined || s.len === 0) return false;
    const offset = (s.seq - aIsn - 1) >>> 0;
    if (offset < sentEnd) return false; // a retransmission gets through
    sentEnd = offset + s.len;
    const i = index++;
    if (!toDrop.has(i) && !(dropFin && (s.flags & TcpFlags.FIN) !== 0)) return false;
    dropped.push(i);
    return true;
  };
  const p = tcpPair({ scheduler: ts, wire: { latencyMs }, tcpA: tcp, tcpB: tcp, hooksB: { transport: { up: tcpInputTap(ts, [], drop) } } });
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
    const drops = [4, 8, 12];
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
    const { p, received, payload } = transferDropping(200 * MSS, [4, 8, 12], { sack: false });
    assert.deepEqual(received, payload);
    assert.equal(stat(p.a, 'tcpConnections', 'sackRecoveries'), 0);
    assert.equal(stat(p.a, 'tcpConnections', 'fastRetransmits'), 1);
    p.close();
  });

  it('a lost tail segment (with the FIN) is repaired by a tail loss probe, not the RTO', () => {
    const { p, received, payload, dropped } = transferDropping(20 * MSS, [], {}, 5, true);
    assert.equal(dropped.length, 1);
    assert.deepEqual(received, payload);
    assert.equal(stat(p.a, 'tcpConnections', 'tlpProbes'), 1);
    assert.equal(stat(p.a, 'tcpConnections', 'timeouts'), 0);
    p.close();
  });

  it('moves 64 MiB byte-exact through 5% loss with RACK-TLP, PRR and SACK on (seeded, virtual time)', function () {
    this.timeout(120_000);
    const MiB = 1024 * 1024;
    const size = 64 * MiB;
    const scheduler = new VirtualTimeScheduler();
    const p = tcpPair({ scheduler, impairAtoB: { loss: 0.05, delay: 5, seed: 64 }, impairBtoA: { loss: 0.05, delay: 5, seed: 65 } });
    const payload = pattern(size, 7);
    let received = 0;
    let firstMismatch = -1;
    let ended = false;
    let finishedAt = -1;
    p.b.tcp.listen({ port: 7 }).subscribe((c) => {
      c.data$.subscribe({
        next: (d) => {
          if (firstMismatch < 0) {
            for (let i = 0; i < d.length; i++) {
              if (d[i] !== payload[received + i]) {
                firstMismatch = received + i;
                break;
              }
            }
          }
          received += d.length;
        },
        complete: () => {
          ended = true;
          finishedAt = scheduler.now();
          guard.unsubscribe();
        },
      });
    });
    p.a.tcp.connect({ address: B_IP, port: 7 }).subscribe((c) => {
      let offset = 0;
      const pump = (): void => {
        while (offset < size) {
          const chunk = payload.subarray(offset, Math.min(offset + 256 * 1024, size));
          offset += chunk.length;
          if (!c.write(chunk)) return;
        }
        c.end();
      };
      c.drain$.subscribe(pump);
      pump();
    });
    const guard = scheduler.schedule(() => p.close(), 1_200_000);
    scheduler.flush();
    assert.equal(firstMismatch, -1, `byte ${firstMismatch} differs`);
    assert.equal(received, size);
    assert.ok(ended, `ended (after ${finishedAt} virtual ms)`);
    assert.ok(stat(p.a, 'tcpConnections', 'sackRecoveries') > 100, 'SACK recovery did the repairs');
    assert.ok(stat(p.a, 'tcpConnections', 'tlpProbes') > 0, 'tail loss probes were sent');
    p.close();
  });
});
