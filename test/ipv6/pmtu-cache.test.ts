import assert from 'node:assert/strict';
import { Ipv6PmtuCache, IPV6_PMTU_DEFAULTS } from '../../src/ipv6/pmtu-cache.js';
import { ipv6Addr } from '../../src/ipv6/address.js';

const D1 = ipv6Addr('fd00::1');
const D2 = ipv6Addr('fd00::2');
const D3 = ipv6Addr('fd00::3');

describe('ipv6/pmtu-cache: path MTU per destination (RFC 8201)', () => {
  it('only lowers, never below 1280, and reads straight from packet bytes', () => {
    const c = new Ipv6PmtuCache();
    assert.equal(c.get(D1, 0, 0), undefined);
    assert.equal(c.packetTooBig(D1, 1500, 1500, 0), 'notLower', 'not below the link MTU');
    assert.equal(c.packetTooBig(D1, 1400, 1500, 0), 'lowered');
    assert.equal(c.packetTooBig(D1, 1450, 1500, 0), 'notLower', 'never raised by a message');
    assert.equal(c.packetTooBig(D1, 500, 1500, 0), 'lowered');
    assert.equal(c.get(D1, 0, 0), 1280, 'below 1280 taken as 1280');
    assert.equal(c.packetTooBig(D1, 500, 1500, 0), 'notLower');
    const packet = new Uint8Array(40);
    packet.set(D1, 24);
    assert.equal(c.get(packet, 24, 0), 1280);
    assert.equal(c.get(D2, 0, 0), undefined);
  });

  it('ages back after 10 minutes from the last lowering', () => {
    const c = new Ipv6PmtuCache();
    c.packetTooBig(D1, 1400, 1500, 0);
    c.packetTooBig(D1, 1300, 1500, 60_000);
    assert.equal(c.nextDeadline(), 60_000 + IPV6_PMTU_DEFAULTS.lifetimeMs);
    assert.equal(c.get(D1, 0, 659_999), 1300);
    assert.equal(c.get(D1, 0, 660_000), undefined);
    assert.equal(c.size, 0);
    c.packetTooBig(D2, 1400, 1500, 0);
    assert.equal(c.expire(600_000), 1);
    assert.equal(c.nextDeadline(), Number.POSITIVE_INFINITY);
  });

  it('is bounded: the entry lowered longest ago makes room', () => {
    const c = new Ipv6PmtuCache({ maxEntries: 2 });
    c.packetTooBig(D1, 1400, 1500, 0);
    c.packetTooBig(D2, 1400, 1500, 1);
    c.packetTooBig(D1, 1300, 1500, 2); // D1 is now the youngest
    c.packetTooBig(D3, 1400, 1500, 3);
    assert.equal(c.size, 2);
    assert.equal(c.get(D2, 0, 3), undefined);
    assert.deepEqual(c.entries().map((e) => e.mtu), [1300, 1400]);
  });
});
