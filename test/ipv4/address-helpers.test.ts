import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv4Addr, ipv4Matcher } from '../../src/ipv4/address.js';
import { adjustChecksum, foldChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.js';

describe('ipv4 address helpers for hooks', () => {
  it('ipv4Addr gives a number, and throws ERR_INVALID_ARG_VALUE for a bad address', () => {
    assert.equal(ipv4Addr('198.18.0.1'), 0xc6120001);
    assert.throws(() => ipv4Addr('198.18.0.300'), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('ipv4Matcher matches CIDRs and plain addresses, and names every bad entry', () => {
    const m = ipv4Matcher(['198.18.0.0/24', '10.0.0.7']);
    assert.equal(m(ipv4Addr('198.18.0.99')), true);
    assert.equal(m(ipv4Addr('198.18.1.1')), false);
    assert.equal(m(ipv4Addr('10.0.0.7')), true);
    assert.equal(m(ipv4Addr('10.0.0.8')), false);
    assert.equal(ipv4Matcher(['0.0.0.0/0'])(ipv4Addr('203.0.113.1')), true);
    assert.throws(() => ipv4Matcher(['1.2.3.4/33', 'x', '1.2.3.4/8/1']), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
      for (const bad of ['1.2.3.4/33', '"x"', '1.2.3.4/8/1']) assert.ok(err.message.includes(bad), err.message);
      return true;
    });
  });
});

describe('wire/checksum adjustChecksum (RFC 1624)', () => {
  it('gives the checksum a full recomputation gives after an address in the pseudo-header changes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 200 }), fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff), (segment, src, dst, newSrc) => {
        const before = foldChecksum(onesSum(segment, 0, segment.length, pseudoHeaderSum(src >>> 0, dst >>> 0, 6, segment.length)));
        const after = foldChecksum(onesSum(segment, 0, segment.length, pseudoHeaderSum(newSrc >>> 0, dst >>> 0, 6, segment.length)));
        const adjusted = adjustChecksum(before, src >>> 0, newSrc >>> 0);
        // 0x0000 and 0xffff are the same number in one's complement.
        assert.equal(adjusted % 0xffff, after % 0xffff);
      }),
      { numRuns: 2000 },
    );
  });
});
