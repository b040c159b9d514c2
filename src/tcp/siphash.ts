/**
 * SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed 64-bit pseudorandom function, small enough
 * to carry here. It keys the ISN offset of RFC 6528 and the SYN cookie MAC.
 *
 * JavaScript numbers cannot do 64-bit integer arithmetic and BigInt is slow, so each 64-bit
 * word is a pair of uint32 halves in a Uint32Array: [v0lo, v0hi, v1lo, v1hi, ...].
 */

const V0 = 0, V1 = 2, V2 = 4, V3 = 6;

export class SipHash24 {
  private readonly k = new Uint32Array(4); // k0lo, k0hi, k1lo, k1hi
  private readonly v = new Uint32Array(8);
  private readonly m = new Uint32Array(2);

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

  private run(msg: Uint8Array): void {
    const v = this.v, k = this.k, m = this.m;
    // "somepseudorandomlygeneratedbytes"
    v[V0] = k[0] ^ 0x70736575; v[V0 + 1] = k[1] ^ 0x736f6d65;
    v[V1] = k[2] ^ 0x6e646f6d; v[V1 + 1] = k[3] ^ 0x646f7261;
    v[V2] = k[0] ^ 0x6e657261; v[V2 + 1] = k[1] ^ 0x6c796765;
    v[V3] = k[2] ^ 0x79746573; v[V3 + 1] = k[3] ^ 0x74656462;
    const len = msg.length;
    const whole = len - (len % 8);
    for (let i = 0; i < whole; i += 8) {
      m[0] = readLe32(msg, i);
      m[1] = readLe32(msg, i + 4);
      this.compress();
    }
    // Last block: the remaining bytes, little-endian, with len mod 256 in the top byte.
    let lo = 0, hi = (len & 0xff) << 24;
    for (let i = whole; i < len; i++) {
      const shift = (i - whole) * 8;
      if (shift < 32) lo |= msg[i] << shift;
      else hi |= msg[i] << (shift - 32);
    }
    m[0] = lo;
    m[1] = hi;
    this.compress();
    v[V2] ^= 0xff;
    for (let r = 0; r < 4; r++) this.round();
  }

  private compress(): void {
    const v = this.v, m = this.m;
    v[V3] ^= m[0]; v[V3 + 1] ^= m[1];
    this.round();
    this.round();
    v[V0] ^= m[0]; v[V0 + 1] ^= m[1];
  }

  private round(): void {
    const v = this.v;
    add(v, V0, V1); rotl(v, V1, 13); xor(v, V1, V0); swap(v, V0);
    add(v, V2, V3); rotl(v, V3, 16); xor(v, V3, V2);
    add(v, V0, V3); rotl(v, V3, 21); xor(v, V3, V0);
    add(v, V2, V1); rotl(v, V1, 17); xor(v, V1, V2); swap(v, V2);
  }
}

function readLe32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

/** v[a] += v[b] (64-bit). */
function add(v: Uint32Array, a: number, b: number): void {
  const lo = v[a] + v[b];
  v[a + 1] = v[a + 1] + v[b + 1] + (lo > 0xffffffff ? 1 : 0);
  v[a] = lo;
}

/** v[a] ^= v[b] (64-bit). */
function xor(v: Uint32Array, a: number, b: number): void {
  v[a] ^= v[b];
  v[a + 1] ^= v[b + 1];
}

/** Rotate left by 32: swap the halves. */
function swap(v: Uint32Array, a: number): void {
  const t = v[a];
  v[a] = v[a + 1];
  v[a + 1] = t;
}

/** Rotate left by n, 0 < n < 32. */
function rotl(v: Uint32Array, a: number, n: number): void {
  const lo = v[a], hi = v[a + 1];
  v[a] = (lo << n) | (hi >>> (32 - n));
  v[a + 1] = (hi << n) | (lo >>> (32 - n));
}
