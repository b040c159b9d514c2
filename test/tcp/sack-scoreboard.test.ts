import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NextSegKind, SackScoreboard } from '../../src/tcp/sack-scoreboard.js';
import { seqAdd } from '../../src/tcp/seq.js';

const MSS = 100;
const UNA = 1000;
/** Ten segments outstanding: 1000..2000. */
const MAX = 2000;

function ranges(sb: SackScoreboard): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < sb.ranges; i++) out.push(sb.range(i));
  return out;
}

describe('tcp/sack-scoreboard', () => {
  it('merges blocks into sorted disjoint ranges and counts new bytes only', () => {
    const sb = new SackScoreboard();
    assert.equal(sb.update([[1500, 1600]], UNA, MAX).newlySacked, 100);
    assert.equal(sb.update([[1200, 1300], [1500, 1600]], UNA, MAX).newlySacked, 100);
    assert.deepEqual(ranges(sb), [[1200, 1300], [1500, 1600]]);
    // Bridges both and extends: 1250..1700 adds 1300..1500 and 1600..1700.
    assert.equal(sb.update([[1250, 1700]], UNA, MAX).newlySacked, 300);
    assert.deepEqual(ranges(sb), [[1200, 1700]]);
    // Adjacent ranges merge.
    sb.update([[1700, 1800]], UNA, MAX);
    assert.deepEqual(ranges(sb), [[1200, 1800]]);
    assert.ok(sb.isSacked(1200) && sb.isSacked(1799) && !sb.isSacked(1800) && !sb.isSacked(1199));
  });

  it('ignores blocks beyond SND.MAX and clips at SND.UNA', () => {
    const sb = new SackScoreboard();
    assert.equal(sb.update([[1900, 2100]], UNA, MAX).newlySacked, 0);
    assert.equal(sb.ranges, 0);
    sb.update([[1100, 1200], [900, 1050]], UNA, MAX); // second block partly below UNA
    assert.deepEqual(ranges(sb), [[1000, 1050], [1100, 1200]]);
  });

  it('recognises a D-SACK below the cumulative ACK or inside the second block (RFC 2883)', () => {
    const sb = new SackScoreboard();
    let u = sb.update([[900, 1000]], UNA, MAX);
    assert.ok(u.dsack);
    assert.equal(u.dsackStart, 900);
    assert.equal(u.dsackEnd, 1000);
    assert.equal(sb.ranges, 0);
    u = sb.update([[1500, 1600], [1400, 1700]], UNA, MAX);
    assert.ok(u.dsack);
    assert.deepEqual(ranges(sb), [[1400, 1700]]);
    u = sb.update([[1800, 1900], [1400, 1700]], UNA, MAX);
    assert.ok(!u.dsack);
  });

  it('advance drops what the cumulative ACK covers', () => {
    const sb = new SackScoreboard();
    sb.update([[1200, 1300], [1500, 1600]], UNA, MAX);
    sb.advance(1250);
    assert.deepEqual(ranges(sb), [[1250, 1300], [1500, 1600]]);
    sb.advance(1600);
    assert.equal(sb.ranges, 0);
  });

  it('IsLost: three discontiguous ranges, or more than 2 * SMSS bytes, above', () => {
    const sb = new SackScoreboard();
    sb.update([[1100, 1200]], UNA, MAX);
    assert.ok(!sb.isLost(1000, UNA, MAX, MSS));
    // 200 bytes in two ranges: not more than 2 * SMSS, fewer than three ranges.
    sb.update([[1300, 1400]], UNA, MAX);
    assert.ok(!sb.isLost(1000, UNA, MAX, MSS));
    // 300 bytes SACKed above 1000: lost; 1200 has 200 bytes in two ranges above: not lost.
    sb.update([[1700, 1800]], UNA, MAX);
    assert.ok(sb.isLost(1000, UNA, MAX, MSS));
    assert.ok(!sb.isLost(1200, UNA, MAX, MSS));
    assert.ok(!sb.isLost(1650, UNA, MAX, MSS));
    assert.ok(!sb.isLost(1100, UNA, MAX, MSS), 'SACKed bytes are never lost');
    // Three ranges of one byte each above 1000 are enough.
    const sb2 = new SackScoreboard();
    sb2.update([[1100, 1101], [1200, 1201], [1300, 1301]], UNA, MAX);
    assert.ok(sb2.isLost(1000, UNA, MAX, MSS));
    assert.ok(!sb2.isLost(1150, UNA, MAX, MSS));
  });

  it('pipe counts unsacked bytes not lost plus retransmitted ones', () => {
    const sb = new SackScoreboard();
    // Segments 1000 and 1200 lost, 1100 and 1300..1500 SACKed (4 segments SACKed).
    sb.update([[1100, 1200], [1300, 1500]], UNA, MAX);
    sb.update([[1500, 1600]], UNA, MAX);
    // Lost edge is 1300 (300 bytes SACKed above it): holes 1000..1100 and 1200..1300 lost.
    assert.equal(sb.lostEdge(UNA, MAX, MSS), 1300);
    // Not lost and unsacked: 1600..2000 = 400.
    assert.equal(sb.pipe(UNA, MAX, MSS), 400);
    sb.startEpisode(UNA);
    sb.onRetransmit(NextSegKind.LOST, 1000, 100);
    assert.equal(sb.pipe(UNA, MAX, MSS), 500);
  });

  it('NextSeg: lost holes first, then new data, then other holes, then one rescue', () => {
    const sb = new SackScoreboard();
    sb.update([[1100, 1200], [1300, 1600]], UNA, MAX);
    sb.startEpisode(UNA);
    let k = sb.nextSeg(UNA, MAX, MSS, true, MAX);
    assert.equal(k, NextSegKind.LOST);
    assert.deepEqual([sb.segSeq, sb.segLen], [1000, 100]);
    sb.onRetransmit(k, sb.segSeq, sb.segLen);
    k = sb.nextSeg(UNA, MAX, MSS, true, MAX);
    assert.equal(k, NextSegKind.LOST);
    assert.deepEqual([sb.segSeq, sb.segLen], [1200, 100]);
    sb.onRetransmit(k, sb.segSeq, sb.segLen);
    assert.equal(sb.nextSeg(UNA, MAX, MSS, true, MAX), NextSegKind.NEW);
    // No new data: nothing unsacked below the highest SACK is left -> rescue of the tail.
    k = sb.nextSeg(UNA, MAX, MSS, false, MAX);
    assert.equal(k, NextSegKind.RESCUE);
    assert.deepEqual([sb.segSeq, sb.segLen], [1900, 100]);
    sb.onRetransmit(k, sb.segSeq, sb.segLen);
    assert.equal(sb.rxtNext, 1300, 'the rescue does not move HighRxt');
    assert.equal(sb.nextSeg(UNA, MAX, MSS, false, MAX), NextSegKind.NONE, 'one rescue per episode');
  });

  it('the rescue is of data sent before the episode began, not of new data sent during it', () => {
    const sb = new SackScoreboard();
    sb.update([[1100, 1500]], UNA, MAX);
    sb.startEpisode(UNA);
    sb.onRetransmit(NextSegKind.LOST, 1000, 100);
    // Recovery began with SND.MAX 1800; 1800..2000 was sent during recovery.
    assert.equal(sb.nextSeg(UNA, MAX, MSS, false, 1800), NextSegKind.RESCUE);
    assert.deepEqual([sb.segSeq, sb.segLen], [1700, 100]);
  });

  it('NextSeg rule 3: a hole below the highest SACK that is not yet lost', () => {
    const sb = new SackScoreboard();
    sb.update([[1100, 1200]], UNA, MAX);
    sb.startEpisode(UNA);
    assert.equal(sb.nextSeg(UNA, MAX, MSS, true, MAX), NextSegKind.NEW);
    assert.equal(sb.nextSeg(UNA, MAX, MSS, false, MAX), NextSegKind.HOLE);
    assert.deepEqual([sb.segSeq, sb.segLen], [1000, 100]);
  });

  it('after an RTO every hole is lost and only holes are resent', () => {
    const sb = new SackScoreboard();
    sb.update([[1100, 1500], [1700, 1800]], UNA, MAX);
    sb.markAllLost(MAX);
    sb.startEpisode(UNA);
    const sent: Array<[number, number]> = [];
    for (let k = sb.nextSeg(UNA, MAX, MSS, false, MAX); k === NextSegKind.LOST; k = sb.nextSeg(UNA, MAX, MSS, false, MAX)) {
      sent.push([sb.segSeq, sb.segLen]);
      sb.onRetransmit(k, sb.segSeq, sb.segLen);
    }
    assert.deepEqual(sent, [[1000, 100], [1500, 100], [1600, 100], [1800, 100], [1900, 100]]);
  });

  it('holds at most maxRanges ranges, forgetting the highest', () => {
    const sb = new SackScoreboard(3);
    sb.update([[1100, 1110], [1300, 1310], [1500, 1510]], UNA, MAX);
    sb.update([[1700, 1710]], UNA, MAX); // would be the highest: dropped
    assert.deepEqual(ranges(sb), [[1100, 1110], [1300, 1310], [1500, 1510]]);
    sb.update([[1200, 1210]], UNA, MAX); // lower: kept, 1500 forgotten
    assert.deepEqual(ranges(sb), [[1100, 1110], [1200, 1210], [1300, 1310]]);
  });

  it('works across the 2^32 wrap', () => {
    const una = 0xffff_ff00;
    const max = seqAdd(una, 1000);
    const sb = new SackScoreboard();
    sb.update([[seqAdd(una, 100), seqAdd(una, 400)]], una, max);
    assert.deepEqual(ranges(sb), [[seqAdd(una, 100), seqAdd(una, 400)]]);
    assert.ok(sb.isLost(una, una, max, MSS));
    sb.startEpisode(una);
    assert.equal(sb.nextSeg(una, max, MSS, false, max), NextSegKind.LOST);
    assert.equal(sb.segSeq, una);
  });

  it('ranges stay sorted, disjoint and equal to the union of blocks (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 1, max: 300 })), { maxLength: 40 }), (blocks) => {
        const sb = new SackScoreboard(1000);
        const bits = new Uint8Array(1000);
        let total = 0;
        for (const [off, len] of blocks) {
          const end = Math.min(off + len, 1000);
          total += sb.update([[UNA + off, UNA + end], [0, 1]], UNA, MAX).newlySacked; // 2nd block ignored (bogus)
          bits.fill(1, off, end);
        }
        const rs = ranges(sb);
        for (let i = 1; i < rs.length; i++) assert.ok(rs[i - 1][1] < rs[i][0]);
        let sum = 0;
        for (const [s, e] of rs) sum += e - s;
        assert.equal(sum, bits.reduce((a, b) => a + b, 0));
        assert.equal(total, sum);
        for (let i = 0; i < 1000; i += 7) assert.equal(sb.isSacked(UNA + i), bits[i] === 1);
      }),
    );
  });
});
