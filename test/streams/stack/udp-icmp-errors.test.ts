import assert from 'node:assert/strict';
import { udpErrorFor } from '../../../streams/stack/udp-icmp-errors.js';

describe('streams/stack/udp-icmp-errors', () => {
  it('maps hard destination-unreachable codes to Node error codes', () => {
    assert.equal(udpErrorFor(3, 3), 'ECONNREFUSED'); // port unreachable
    assert.equal(udpErrorFor(3, 2), 'ECONNREFUSED'); // protocol unreachable
    assert.equal(udpErrorFor(3, 6), 'ENETUNREACH');
    assert.equal(udpErrorFor(3, 9), 'ENETUNREACH');
    for (const code of [7, 8, 10, 13, 14, 15]) assert.equal(udpErrorFor(3, code), 'EHOSTUNREACH', `code ${code}`);
  });

  it('ignores soft errors, as Linux does for UDP without IP_RECVERR', () => {
    for (const code of [0, 1, 4, 5, 11, 12, 16]) assert.equal(udpErrorFor(3, code), undefined, `unreachable code ${code}`);
    assert.equal(udpErrorFor(11, 0), undefined); // time exceeded
    assert.equal(udpErrorFor(12, 0), undefined); // parameter problem
  });
});
