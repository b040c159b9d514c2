/**
 * RACK's loss marks are per segment (RFC 8985 6.2, as Linux's tcp_rack_detect_loss): each
 * segment's own transmit time against the reordering window decides, not one "lost edge" below
 * which every hole counts lost.
 */
import assert from 'node:assert/strict';
import { bytes, Harness, send } from './harness.js';
import { sackAck, sackEstablished, sent } from './sack-harness.js';

const established = (): Harness => sackEstablished({ config: { lossDetection: 'rack', rtoMin: 1000 } });

describe('tcp/rack: per-segment loss marks', () => {
  it('a retransmission still in flight below a lost segment is not resent', () => {
    const h = established();
    h.conn.write(bytes(16_000), h.now);
    assert.equal(sent(h).length, 10, 'segments 0-9 at 100 (RTT 100)');
    h.now = 200;
    send(h, sackAck(0, [1000, 5000]));
    assert.deepEqual(sent(h), [[0, 1000], [10_000, 1000]], 'segment 0 lost (A); PRR lets segment 10 out after it');
    h.now = 250;
    send(h, sackAck(0, [1000, 5000], [6000, 9000]));
    assert.deepEqual(sent(h), [[5000, 1000], [11_000, 1000]], 'segment 5 lost, resent at 250 (B)');
    h.now = 300;
    // Segment 10 (sent at 200, after A) delivered: A is lost again, and so is segment 9 (sent at
    // 100). B went out at 250, after segment 10: not lost, in flight, below segment 9.
    send(h, sackAck(0, [1000, 5000], [6000, 9000], [10_000, 11_000]));
    assert.deepEqual(sent(h), [[0, 1000], [9000, 1000], [12_000, 1000]], 'A and segment 9 again, new data; not B');
    assert.equal(h.conn.counters.retransmits, 4);
    // Once B's own time is up without a SACK it is lost too (RACK.rtt 100 from segment 10).
    h.now = 360;
    send(h, sackAck(0, [1000, 5000], [6000, 9000], [10_000, 12_000]));
    assert.ok(sent(h).some(([off]) => off === 5000), 'B resent when its own time says so');
  });
});
