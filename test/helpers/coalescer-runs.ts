/**
 * The link's batch coalescers run over a list of frames the way a device batch hands them over,
 * and the bulk-stream payload the receive-coalescing tests check byte for byte.
 */
import { AckCoalescer } from '../../streams/links/ack-coalescer.js';
import { createTcpCoalescer, type CoalesceStats } from '../../streams/links/gro.js';

/** First sequence number of the test streams: payload byte i stands at seq STREAM_ISN + i. */
export const STREAM_ISN = 1000;

/** The stream's byte at offset `i` (13 is odd, so neighbouring bytes differ). */
export const streamByte = (i: number): number => (i * 13 + 5) & 0xff;

/** The `len` stream bytes a segment starting at `seq` carries. */
export function streamPayload(seq: number, len: number): Uint8Array {
  const payload = new Uint8Array(len);
  for (let i = 0; i < len; i++) payload[i] = streamByte(seq - STREAM_ISN + i);
  return payload;
}

/** Receive coalescing of one batch: the frames out, the counters, and which frames it vouched for. */
export function runTcpCoalescer(frames: Uint8Array[], layer: 'ethernet' | 'ip' = 'ethernet') {
  const stats: CoalesceStats = { coalesced: 0, runs: 0 };
  const verified = new WeakSet<Uint8Array>();
  const out = createTcpCoalescer(layer)(frames, verified, stats);
  return { out, stats, verified };
}

/** ACK coalescing of one batch: the frames kept, in order, and how many were dropped. */
export function runAckCoalescer(frames: Uint8Array[], maxSpan?: number): { kept: Uint8Array[]; coalesced: number } {
  const c = new AckCoalescer(maxSpan);
  const batch: Array<Uint8Array | null> = [];
  for (const f of frames) c.push(batch, f);
  return { kept: batch.filter((f): f is Uint8Array => f !== null), coalesced: c.coalesced };
}

/** The frames copied one after the other into one buffer, as a device read of a batch leaves them, and views of each. */
export function framesInOneBuffer(frames: readonly Uint8Array[]): { buffer: Uint8Array; batch: Uint8Array[] } {
  const buffer = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  const batch: Uint8Array[] = [];
  let at = 0;
  for (const f of frames) {
    buffer.set(f, at);
    batch.push(buffer.subarray(at, at + f.length));
    at += f.length;
  }
  return { buffer, batch };
}

/** `count` back-to-back segments of `size` stream bytes from `from` on, each made by `frame`. */
export function streamFrames<O extends { seq: number; len: number }>(
  frame: (o: O) => Uint8Array, count: number, size: number, from = STREAM_ISN, extra?: Partial<O>,
): Uint8Array[] {
  return Array.from({ length: count }, (_, k) => frame({ ...extra, seq: from + k * size, len: size } as O));
}
