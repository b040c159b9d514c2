/**
 * F-RTO's decisions (src/tcp/frto.ts, RFC 5682 3.1 with Linux's test for a spurious timeout), on
 * a scoreboard alone. The timeout resent [0, 1000) of a flight [0, 10000).
 */
import assert from 'node:assert/strict';
import { Frto, FRTO_CONTINUE, FRTO_NEW_SENT, FRTO_OFF, FRTO_REAL, FRTO_SEND_NEW, FRTO_SPURIOUS } from '../../src/tcp/frto.js';
import { SackScoreboard } from '../../src/tcp/sack-scoreboard.js';

const MAX = 10_000;

function started(): { f: Frto; sb: SackScoreboard } {
  const f = new Frto();
  const sb = new SackScoreboard();
  f.start(MAX, 1000);
  return { f, sb };
}

/** One ACK: cumulative `una` (from `before`), SACK blocks, then F-RTO's verdict. */
function ack(f: Frto, sb: SackScoreboard, unaBefore: number, una: number, blocks: Array<[number, number]>, canSendNew = true): number {
  f.before(sb, unaBefore);
  const sacked = blocks.length > 0 && sb.update(blocks, una, MAX + 2000).newlySacked > 0;
  sb.advance(una);
  return f.onAck(sb, una, una !== unaBefore, sacked, una === unaBefore, canSendNew);
}

describe('tcp/frto (RFC 5682 3.1, SACK-enhanced)', () => {
  it('step 2: duplicates wait; the ACK of the resent segment alone lets new data out (2b)', () => {
    const { f, sb } = started();
    assert.equal(ack(f, sb, 0, 0, []), FRTO_CONTINUE);
    assert.equal(ack(f, sb, 0, 1000, []), FRTO_SEND_NEW);
    assert.equal(f.step, FRTO_NEW_SENT);
  });

  it('step 3: an ACK showing only the new data confirms the loss', () => {
    const { f, sb } = started();
    ack(f, sb, 0, 1000, []);
    assert.equal(ack(f, sb, 1000, 1000, [[MAX, MAX + 1000]]), FRTO_REAL);
    assert.equal(f.step, FRTO_OFF);
  });

  it('data sent before the timeout and never resent, (S)ACKed at any step: spurious', () => {
    let { f, sb } = started();
    assert.equal(ack(f, sb, 0, 2000, []), FRTO_SPURIOUS, 'the first ACK covers more than the resent segment');
    ({ f, sb } = started());
    assert.equal(ack(f, sb, 0, 0, [[5000, 6000]]), FRTO_SPURIOUS, 'a SACK of an original');
    ({ f, sb } = started());
    ack(f, sb, 0, 1000, []);
    assert.equal(ack(f, sb, 1000, 1000, [[2000, 3000], [MAX, MAX + 1000]]), FRTO_SPURIOUS, 'step 3 with an original SACKed');
  });

  it('nothing to tell or nothing new to send: the conventional recovery', () => {
    let { f, sb } = started();
    sb.update([[1000, MAX]], 0, MAX); // SACKed before: not news
    assert.equal(ack(f, sb, 0, MAX, []), FRTO_REAL, '2a: everything acknowledged, only the resent segment new');
    ({ f, sb } = started());
    assert.equal(ack(f, sb, 0, 1000, [], false), FRTO_REAL, '2b without new data');
  });
});
