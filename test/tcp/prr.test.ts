import assert from 'node:assert/strict';
import { Prr } from '../../src/tcp/prr.js';

const MSS = 100;

describe('tcp/prr (RFC 6937)', () => {
  it('pipe above ssthresh: one segment for every two delivered when ssthresh is half the flight', () => {
    const p = new Prr();
    p.start(20 * MSS);
    const ssthresh = 10 * MSS;
    let pipe = 19 * MSS; // one segment lost
    const sent: number[] = [];
    for (let ack = 0; ack < 8; ack++) {
      pipe -= MSS; // a segment left the network
      p.onAck(MSS, pipe, ssthresh, MSS);
      let n = 0;
      while (p.budget >= MSS) {
        p.onSend(MSS);
        pipe += MSS;
        n++;
      }
      sent.push(n);
    }
    assert.deepEqual(sent, [0, 1, 0, 1, 0, 1, 0, 1]);
    assert.equal(p.out, 4 * MSS);
    assert.equal(p.delivered, 8 * MSS);
  });

  it('pipe below ssthresh (PRR-SSRB): climbs back by at most delivered + one MSS per ACK', () => {
    const p = new Prr();
    p.start(20 * MSS);
    // Heavy loss: pipe fell to 4 segments, ssthresh 10.
    assert.equal(p.onAck(MSS, 4 * MSS, 10 * MSS, MSS), 2 * MSS, 'max(delivered - out, DeliveredData) + MSS');
    p.onSend(2 * MSS);
    assert.equal(p.onAck(3 * MSS, 5 * MSS, 10 * MSS, MSS), 4 * MSS, 'DeliveredData 3 + 1');
    assert.equal(p.onAck(MSS, 9 * MSS + 50, 10 * MSS, MSS), 50, 'never above ssthresh - pipe');
  });

  it('the budget is never negative', () => {
    const p = new Prr();
    p.start(10 * MSS);
    p.onSend(3 * MSS); // the fast retransmit and more, before any delivery
    assert.equal(p.onAck(MSS, 9 * MSS, 5 * MSS, MSS), 0);
  });
});
