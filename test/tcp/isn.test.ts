import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IsnGenerator } from '../../src/tcp/isn.js';
import { SipHash24 } from '../../src/tcp/siphash.js';

/** A straightforward BigInt SipHash-2-4 from the paper, as an independent oracle. */
function sipHashReference(key: Uint8Array, msg: Uint8Array): bigint {
  const MASK = (1n << 64n) - 1n;
  const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK;
  const le64 = (b: Uint8Array, i: number): bigint => {
    let x = 0n;
    for (let j = 7; j >= 0; j--) x = (x << 8n) | BigInt(b[i + j]);
    return x;
  };
  const k0 = le64(key, 0), k1 = le64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n, v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n, v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const padded = new Uint8Array(Math.floor(msg.length / 8) * 8 + 8);
  padded.set(msg);
  padded[padded.length - 1] = msg.length & 0xff;
  for (let i = 0; i < padded.length; i += 8) {
    const m = le64(padded, i);
    v3 ^= m; round(); round(); v0 ^= m;
  }
  v2 ^= 0xffn;
  round(); round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const seqMsg = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);

function hash64(key: Uint8Array, msg: Uint8Array): bigint {
  const [lo, hi] = new SipHash24(key).hash64(msg);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

describe('tcp/siphash', () => {
  it('matches the published test vectors (key 00..0f, message 00..len-1)', () => {
    assert.equal(hash64(KEY, seqMsg(0)), 0x726fdb47dd0e0e31n);
    assert.equal(hash64(KEY, seqMsg(1)), 0x74f839c593dc67fdn);
    assert.equal(hash64(KEY, seqMsg(15)), 0xa129ca6149be45e5n);
  });

  it('agrees with a BigInt reference for random keys and messages (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 40 }), (key, msg) => {
        assert.equal(hash64(key, msg), sipHashReference(key, msg));
        assert.equal(new SipHash24(key).hash32(msg), Number(sipHashReference(key, msg) & 0xffffffffn));
      }),
    );
  });

  it('rejects keys that are not 16 bytes', () => {
    assert.throws(() => new SipHash24(new Uint8Array(8)), RangeError);
  });
});

describe('tcp/isn (RFC 6528)', () => {
  const A = 0xc6120002, B = 0xc6120001;

  it('advances with a 4 µs clock for the same 4-tuple', () => {
    const gen = new IsnGenerator(KEY);
    const t0 = gen.isn(A, 80, B, 40000, 1000);
    const t1 = gen.isn(A, 80, B, 40000, 1001);
    assert.equal((t1 - t0) >>> 0, 250, 'one millisecond is 250 ticks');
  });

  it('differs between 4-tuples and between secrets', () => {
    const gen = new IsnGenerator(KEY);
    const other = new IsnGenerator(Uint8Array.from({ length: 16 }, (_, i) => 255 - i));
    const base = gen.isn(A, 80, B, 40000, 0);
    assert.notEqual(gen.isn(A, 80, B, 40001, 0), base);
    assert.notEqual(gen.isn(A, 81, B, 40000, 0), base);
    assert.notEqual(gen.isn(B, 80, A, 40000, 0), base);
    assert.notEqual(other.isn(A, 80, B, 40000, 0), base);
  });

  it('equals M + F with F = SipHash of (local ip, remote ip, local port, remote port)', () => {
    const gen = new IsnGenerator(KEY);
    const msg = Uint8Array.of(0xc6, 0x12, 0, 2, 0xc6, 0x12, 0, 1, 0, 80, 0x9c, 0x40);
    const f = Number(sipHashReference(KEY, msg) & 0xffffffffn);
    assert.equal(gen.isn(A, 80, B, 40000, 10), (2500 + f) >>> 0);
  });

  it('stays a uint32 for large clocks', () => {
    const isn = new IsnGenerator(KEY).isn(A, 80, B, 40000, 1e12);
    assert.ok(Number.isInteger(isn) && isn >= 0 && isn < 2 ** 32);
  });
});
