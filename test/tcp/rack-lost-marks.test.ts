/**
 * RACK's loss marks are per segment (RFC 8985 6.2, as Linux's tcp_rack_detect_loss): each
 * segment's own transmit time against the reordering window decides, not one "lost edge" below
 * which every hole counts lost.
 */
import assert from 'node:assert/strict';
import { bytes, Harness, send } from './harness.js';
import { sackAck, sackEstablished, sent } from './sack-harness.js';
import { Rack } from '../../src/tcp/rack.js';
import { SackScoreboard } from '../../src/tcp/sack-scoreboard.js';
import { seqAdd } from '../../src/tcp/seq.js';

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

  it('Rack.lostAt / lostUnsacked: marks by segment, runs of equal marks, across the 2^32 wrap', () => {
    const base = 0xffff_f000; // the sequence space wraps inside the third segment
    const at = (i: number): number => seqAdd(base, i * 1000);
    const r = new Rack();
    r.clear(base);
    for (let i = 0; i < 6; i++) r.onSend(at(i), at(i + 1), 100, at(i));
    r.onSend(at(6), at(7), 150, at(6)); // segment 6 later
    const sb = new SackScoreboard();
    sb.update([[at(3), at(4)], [at(6), at(7)]], base, at(7));
    r.onAck(base, sb, true, false, at(7), 250); // segment 6 delivered: RACK.rtt 100 from 150
    r.detectLoss(250, 0, base);
    // 0-2 and 4-5 sent at 100, before segment 6: lost; 3 SACKed (delivered).
    assert.equal(r.lostAt(at(0) + 10), true);
    assert.equal(r.runEnd, at(3), 'segments 0-2 in one run');
    assert.equal(r.lostAt(at(3)), false, 'delivered');
    assert.equal(r.runEnd, at(4));
    assert.equal(r.lostAt(at(5)), true);
    assert.equal(r.runEnd, at(6));
    assert.equal(r.lostAt(at(6)), false);
    assert.equal(r.lostAt(at(9)), false, 'beyond every record');
    assert.equal(r.lostUnsacked(sb, base, r.lostEdge), 5000);
    assert.equal(r.lostUnsacked(sb, at(1), r.lostEdge), 4000, 'from SND.UNA on');
    // A retransmission clears its segment's mark until RACK finds it lost again.
    r.onSend(at(1), at(2), 260, at(7));
    assert.equal(r.lostAt(at(1)), false);
    assert.equal(r.lostAt(at(0)), true);
    assert.equal(r.runEnd, at(1));
    assert.equal(r.lostUnsacked(sb, base, r.lostEdge), 4000);
  });
});
