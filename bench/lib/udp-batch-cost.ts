/**
 * What bench/inbound-cost.ts and bench/udp-echo-cost.ts share: the one-byte UDP request they
 * feed a stack, and the measurement (batches of 32 frames pushed as a TAP wake-up hands them
 * over, a warm-up, then CPU nanoseconds per frame over ROUNDS rounds of N).
 */
import { internetChecksum } from '../../src/wire/checksum.js';

/** Frames per batch: what one wake-up of the TAP link hands over under load. */
const BATCH = 32;
/** Frames pushed before the measured rounds (the JIT's warm-up). */
export const WARM_FRAMES = 200_000;

/** 198.18.0.1:12345 (MAC 02:00:00:00:00:01) -> 198.18.0.2:7 at `dstMac`, one byte, no UDP checksum (0: none). */
export function udpRequestFrame(dstMac: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 1);
  f.set(dstMac, 0);
  f.set([2, 0, 0, 0, 0, 1, 0x08, 0x00], 6);
  const ip = 14;
  f.set([0x45, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], ip);
  const checksum = internetChecksum(f, ip, 20);
  f[ip + 10] = checksum >>> 8;
  f[ip + 11] = checksum & 0xff;
  f.set([0x30, 0x39, 0, 7, 0, 9, 0, 0, 0x61], ip + 20);
  return f;
}

export interface BatchCost {
  /** CPU ns per frame of each round. */
  readonly perFrame: number[];
  readonly median: number;
  /** Frames pushed in all, the warm-up included. */
  readonly pushed: number;
}

/**
 * Pushes `frame` WARM_FRAMES times, then `rounds` rounds of `n`, in batches of 32 through
 * `push`, and gives the CPU (user + system, process.cpuUsage) per frame of each round.
 */
export function batchCost(push: (frame: Uint8Array) => void, frame: Uint8Array, n: number, rounds: number): BatchCost {
  const batch = Array.from({ length: BATCH }, () => frame.slice());
  const run = (count: number): void => {
    for (let i = 0; i < count; i += BATCH) for (let j = 0; j < BATCH; j++) push(batch[j]);
  };
  run(WARM_FRAMES);
  const perFrame: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const u0 = process.cpuUsage();
    run(n);
    const u = process.cpuUsage(u0);
    perFrame.push(((u.user + u.system) * 1000) / n);
  }
  const sorted = [...perFrame].sort((x, y) => x - y);
  return { perFrame, median: sorted[rounds >> 1], pushed: WARM_FRAMES + rounds * n };
}

/** Tenths of a nanosecond, for printing. */
export const tenths = (x: number): number => Math.round(x * 10) / 10;
