/**
 * SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed 64-bit pseudorandom function, small enough
 * to carry here. It keys the ISN offset of RFC 6528 and the SYN cookie MAC.
 *
 * JavaScript numbers cannot do 64-bit integer arithmetic and BigInt is slow, so each 64-bit
 * word is a pair of uint32 halves in a Uint32Array: [v0lo, v0hi, v1lo, v1hi, ...].
 */

/**
 * The state after a run: v0..v3 as [lo, hi] pairs. Read by hash32/hash64 only: the rounds keep
 * the state in locals (a round through the array was about a fifth slower: a connection's ISN
 * is one hash per SYN).
 */
const V0 = 0, V1 = 2, V2 = 4, V3 = 6;

export class SipHash24 {
  private readonly k = new Uint32Array(4); // k0lo, k0hi, k1lo, k1hi
  private readonly v = new Uint32Array(8);

  /** `key` must be 16 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError('SipHash key must be 16 bytes');
    for (let i = 0; i < 4; i++) this.k[i] = readLe32(key, i * 4);
  }

  /** The low 32 bits of SipHash-2-4(key, msg). */
  hash32(msg: Uint8Array): number {
    this.run(msg);
    return (this.v[V0] ^ this.v[V1] ^ this.v[V2] ^ this.v[V3]) >>> 0;
  }

  /** The full 64-bit hash as [low 32 bits, high 32 bits] in `out`. */
  hash64(msg: Uint8Array, out: Uint32Array = new Uint32Array(2)): Uint32Array {
    this.run(msg);
    const v = this.v;
    out[0] = v[V0] ^ v[V1] ^ v[V2] ^ v[V3];
    out[1] = v[V0 + 1] ^ v[V1 + 1] ^ v[V2 + 1] ^ v[V3 + 1];
    return out;
  }

  /**
   * The compression of every 8-byte block (the last one: the remaining bytes, little-endian,
   * with len mod 256 in the top byte), then the finalisation; each 64-bit word is two int32
   * halves (lo, hi), additions carry from lo into hi.
   */
  private run(msg: Uint8Array): void {
    const k = this.k;
    // "somepseudorandomlygeneratedbytes"
    let v0l = k[0] ^ 0x70736575, v0h = k[1] ^ 0x736f6d65;
    let v1l = k[2] ^ 0x6e646f6d, v1h = k[3] ^ 0x646f7261;
    let v2l = k[0] ^ 0x6e657261, v2h = k[1] ^ 0x6c796765;
    let v3l = k[2] ^ 0x79746573, v3h = k[3] ^ 0x74656462;
    const len = msg.length;
    const whole = len - (len % 8);
    // Blocks 0..last are compressed (two rounds each); one step more is the finalisation.
    const last = whole / 8;
    for (let b = 0; b <= last + 1; b++) {
      let ml = 0, mh = 0;
      let rounds = 2;
      if (b < last) {
        ml = readLe32(msg, b * 8);
        mh = readLe32(msg, b * 8 + 4);
      } else if (b === last) {
        mh = (len & 0xff) << 24;
        for (let i = whole; i < len; i++) {
          const shift = (i - whole) * 8;
          if (shift < 32) ml |= msg[i] << shift;
          else mh |= msg[i] << (shift - 32);
        }
      } else {
        v2l ^= 0xff;
        rounds = 4;
      }
      v3l ^= ml; v3h ^= mh;
      for (let r = 0; r < rounds; r++) {
        let lo, t;
        // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
        lo = (v0l >>> 0) + (v1l >>> 0);
        v0h = (v0h + v1h + (lo > 0xffffffff ? 1 : 0)) | 0;
        v0l = lo | 0;
        t = v1l;
        v1l = (v1l << 13) | (v1h >>> 19);
        v1h = (v1h << 13) | (t >>> 19);
        v1l ^= v0l; v1h ^= v0h;
        t = v0l; v0l = v0h; v0h = t;
        // v2 += v3; v3 <<<= 16; v3 ^= v2
        lo = (v2l >>> 0) + (v3l >>> 0);
        v2h = (v2h + v3h + (lo > 0xffffffff ? 1 : 0)) | 0;
        v2l = lo | 0;
        t = v3l;
        v3l = (v3l << 16) | (v3h >>> 16);
        v3h = (v3h << 16) | (t >>> 16);
        v3l ^= v2l; v3h ^= v2h;
        // v0 += v3; v3 <<<= 21; v3 ^= v0
        lo = (v0l >>> 0) + (v3l >>> 0);
        v0h = (v0h + v3h + (lo > 0xffffffff ? 1 : 0)) | 0;
        v0l = lo | 0;
        t = v3l;
        v3l = (v3l << 21) | (v3h >>> 11);
        v3h = (v3h << 21) | (t >>> 11);
        v3l ^= v0l; v3h ^= v0h;
        // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
        lo = (v2l >>> 0) + (v1l >>> 0);
        v2h = (v2h + v1h + (lo > 0xffffffff ? 1 : 0)) | 0;
        v2l = lo | 0;
        t = v1l;
        v1l = (v1l << 17) | (v1h >>> 15);
        v1h = (v1h << 17) | (t >>> 15);
        v1l ^= v2l; v1h ^= v2h;
        t = v2l; v2l = v2h; v2h = t;
      }
      v0l ^= ml; v0h ^= mh;
    }
    const v = this.v;
    v[V0] = v0l; v[V0 + 1] = v0h;
    v[V1] = v1l; v[V1 + 1] = v1h;
    v[V2] = v2l; v[V2 + 1] = v2h;
    v[V3] = v3l; v[V3 + 1] = v3h;
  }
}

function readLe32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}
