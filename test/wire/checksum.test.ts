import assert from 'node:assert/strict';
import fc from 'fast-check';
import { foldChecksum, internetChecksum, onesSum, pseudoHeaderSum } from '../../src/wire/checksum.js';

/** The textbook definition, one 16-bit word at a time, to check the fast paths against. */
function referenceSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[offset + i];
    const lo = i + 1 < length ? bytes[offset + i + 1] : 0;
    sum += (hi << 8) | lo;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

describe('wire/checksum', () => {
  it('computes the RFC 1071 section 3 example', () => {
    // RFC 1071 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0x2ddf0, folded 0xddf2.
    const bytes = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    assert.equal(onesSum(bytes, 0, 8), 0xddf2);
    assert.equal(internetChecksum(bytes, 0, 8), 0x220d);
  });

  it('pads an odd final byte with a zero low byte', () => {
    const bytes = new Uint8Array([0x12, 0x34, 0x56]);
    assert.equal(onesSum(bytes, 0, 3), 0x1234 + 0x5600);
  });

  it('verifies a real IPv4 header (sum over it including the checksum is 0xffff)', () => {
    // version 4 IHL 5, tos 0, total 0x73 | id 0, DF | ttl 64, UDP, checksum 0xb861 |
    // 192.168.0.1 -> 192.168.0.199 (the worked example of the IPv4 header checksum)
    const header = new Uint8Array([
      0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
      0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ]);
    assert.equal(onesSum(header, 0, 20), 0xffff);
    header[10] = 0;
    header[11] = 0;
    assert.equal(internetChecksum(header, 0, 20), 0xb861);
  });

  it('chains partial sums at even boundaries', () => {
    const bytes = new Uint8Array(300).map((_, i) => (i * 37 + 11) & 0xff);
    const whole = onesSum(bytes, 0, 300);
    assert.equal(onesSum(bytes, 100, 200, onesSum(bytes, 0, 100)), whole);
    assert.equal(onesSum(bytes, 0, 300, 0x1234), referenceSum(bytes, 0, 300, 0x1234));
  });

  it('builds the pseudo-header sum', () => {
    // 198.18.0.1 -> 198.18.0.2, TCP (6), length 40
    const sum = pseudoHeaderSum(0xc6120001, 0xc6120002, 6, 40);
    const bytes = new Uint8Array([0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02, 0x00, 0x06, 0x00, 0x28]);
    assert.equal(sum, referenceSum(bytes, 0, 12));
  });

  it('foldChecksum folds large sums and complements', () => {
    assert.equal(foldChecksum(0x2ddf0), 0x220d);
    assert.equal(foldChecksum(0xffff), 0);
    assert.equal(foldChecksum(0), 0xffff);
  });

  it('matches the reference for any offset, length and alignment (word and byte paths)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        fc.nat(7),
        fc.nat(),
        fc.nat(),
        fc.nat(0xffff),
        (data, shift, a, b, initial) => {
          // Copy into a buffer at a chosen byteOffset so every alignment of the start is hit.
          const backing = new Uint8Array(data.length + 8);
          const bytes = backing.subarray(shift, shift + data.length);
          bytes.set(data);
          const offset = data.length === 0 ? 0 : a % data.length;
          const length = data.length === 0 ? 0 : b % (data.length - offset + 1);
          assert.equal(onesSum(bytes, offset, length, initial), referenceSum(bytes, offset, length, initial));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('handles a large (64 KiB) range on every start alignment', () => {
    const data = new Uint8Array(65536 + 8).map((_, i) => (i * 2654435761) >>> 24);
    for (let off = 0; off < 8; off++) {
      assert.equal(onesSum(data, off, 65535), referenceSum(data, off, 65535));
    }
  });

  it('detects a flipped bit', () => {
    const bytes = new Uint8Array(100).map((_, i) => i);
    // Make the last two bytes the checksum field: zero them, compute, store.
    bytes[98] = 0;
    bytes[99] = 0;
    const c = internetChecksum(bytes, 0, 100);
    bytes[98] = c >>> 8;
    bytes[99] = c & 0xff;
    assert.equal(onesSum(bytes, 0, 100), 0xffff);
    bytes[17] ^= 0x04;
    assert.notEqual(onesSum(bytes, 0, 100), 0xffff);
  });
});
